"""Colours of the report, chosen to pass WCAG 2.1 AA (4.5:1 for text) — checked by a unit test.

Status is never shown by colour alone: every status also carries a text label ("on target",
"close to target", "off target", "no target").
"""

from __future__ import annotations

__all__ = ["PALETTE", "STATUS", "SERIES", "contrast_ratio"]

PALETTE = {
    "text": "#1f2933",
    "muted": "#4b5563",
    "background": "#ffffff",
    "panel": "#f4f6f8",
    "border": "#c4ccd6",
    "link": "#1d4ed8",
    "focus": "#b45309",
    "header_bg": "#1e3a5f",
    "header_text": "#ffffff",
}

#: status -> (background, text colour, label). White text on the dark backgrounds passes AA.
STATUS = {
    "good": ("#1e6b34", "#ffffff", "on target"),
    "close": ("#8a4b00", "#ffffff", "close to target"),
    "bad": ("#a32020", "#ffffff", "off target"),
    "none": ("#4b5563", "#ffffff", "no target"),
    "unknown": ("#4b5563", "#ffffff", "not measured"),
}

#: Colours for chart series (distinguishable and dark enough to be read as text labels on white).
SERIES = ["#1d4ed8", "#b45309", "#047857", "#a32020", "#6d28d9", "#0e7490", "#9d174d", "#4b5563"]


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.1 contrast ratio between two ``#rrggbb`` colours (1..21)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
