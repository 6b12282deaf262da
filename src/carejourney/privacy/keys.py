"""The project's pseudonymisation key: generated once, kept out of YAML, never printed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..errors import PrivacyError

__all__ = ["load_key", "create_key_file"]

_MIN_KEY_BYTES = 16


def create_key_file(path: Path) -> bool:
    """Write a fresh 256-bit key to ``path`` with mode 0600. Returns False if one exists already."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return True


def load_key(key_env: str, key_file: Path) -> bytes:
    """The key from the environment variable, else from the key file. Raises if neither exists."""
    raw = os.environ.get(key_env)
    origin = f"environment variable {key_env}"
    if not raw:
        if not key_file.is_file():
            raise PrivacyError(
                f"no pseudonymisation key: set {key_env} or create {key_file} "
                "(`carejourney init` makes one). Without it no identifier can be keyed safely."
            )
        if key_file.stat().st_mode & 0o077:
            raise PrivacyError(f"{key_file}: key file is readable by others; run `chmod 600 {key_file}`")
        raw = key_file.read_text().strip()
        origin = str(key_file)
    if len(raw.encode()) < _MIN_KEY_BYTES:
        raise PrivacyError(f"{origin}: key is too short (need at least {_MIN_KEY_BYTES} characters)")
    return raw.encode()
