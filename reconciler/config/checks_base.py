"""Small, defensive readers of parsed data shared by the cross-field checks."""

from __future__ import annotations

from reconciler.config.source import Document

__all__ = ["Document", "is_path", "is_within", "obj", "strings"]


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
