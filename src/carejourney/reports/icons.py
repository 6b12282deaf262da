"""Channel icons as inline SVG (no icon font, no CDN). Decorative: the channel name is always
written next to the icon, so the SVG is ``aria-hidden``."""

from __future__ import annotations

from markupsafe import Markup

__all__ = ["channel_icon", "CHANNEL_LABELS"]

CHANNEL_LABELS = {
    "digital": "Web or app", "phone": "Phone", "in_person": "In person", "mail": "Mail", "referral": "Referral",
}

_PATHS = {
    # monitor
    "digital": '<rect x="2" y="3" width="20" height="13" rx="2"/><path d="M8 21h8M12 16v5"/>',
    # handset
    "phone": '<path d="M5 3h4l2 5-3 2a11 11 0 0 0 6 6l2-3 5 2v4a2 2 0 0 1-2 2A18 18 0 0 1 3 5a2 2 0 0 1 2-2z"/>',
    # person
    "in_person": '<circle cx="12" cy="7" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
    # envelope
    "mail": '<rect x="2" y="5" width="20" height="14" rx="2"/><path d="M2 7l10 7 10-7"/>',
    # document with arrow
    "referral": '<path d="M6 2h8l4 4v16H6z"/><path d="M9 14h6M13 11l3 3-3 3"/>',
}


def channel_icon(channel: str) -> Markup:
    path = _PATHS.get(channel, '<circle cx="12" cy="12" r="8"/>')
    return Markup(
        '<svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false" '
        'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        f"{path}</svg>")
