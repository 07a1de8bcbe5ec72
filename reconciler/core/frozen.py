"""Read-only mappings for frozen dataclasses: "frozen" means the fields cannot change, mappings included."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def frozen_map(mapping: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only view over a private copy of ``mapping`` (a view already read-only is kept as it is)."""
    if isinstance(mapping, MappingProxyType):
        return mapping
    return MappingProxyType(dict(mapping))


def freeze(obj: object, *names: str) -> None:
    """In a frozen dataclass's ``__post_init__``: replace the named mapping fields by read-only copies."""
    for name in names:
        object.__setattr__(obj, name, frozen_map(getattr(obj, name)))
