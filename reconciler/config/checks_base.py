"""Small, defensive readers of parsed data shared by the cross-field checks."""

from __future__ import annotations

import re

from reconciler.config.source import Document

__all__ = ["Document", "is_path", "is_within", "looks_like_token", "obj", "strings"]

_JWT = re.compile(r"^eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def obj(value: object) -> dict[str, object]:
    """``value`` when it is a mapping, else an empty one (the schema reports the wrong type)."""
    return value if isinstance(value, dict) else {}


def strings(value: object) -> list[tuple[int, str]]:
    """(index, item) for the string items of a list; anything else yields nothing."""
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, str)]


def is_path(ou: str) -> bool:
    """OU paths start with ``/``; ids start with ``ou-`` or ``r-``."""
    return ou.startswith("/")


def is_within(path: str, ancestor: str) -> bool:
    """True when OU path ``path`` is ``ancestor`` or one of its descendants."""
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def looks_like_token(value: str) -> bool:
    """A bearer token (JWT), a UUID, or a long random-looking string: what a pasted Clumio token looks like."""
    if _JWT.match(value) or _UUID.match(value):
        return True
    return (
        len(value) >= 32
        and " " not in value
        and "/" not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )
