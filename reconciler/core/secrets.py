"""Secret: a value that must reach AWS or Clumio but never a terminal, a file or a log."""

from __future__ import annotations

import hashlib


class Secret:
    """Wraps a secret string (Clumio API token, ClumioToken, RoleExternalId).

    ``str()``/``repr()`` print ``****``; only :meth:`reveal` gives the value, and only provider code that puts it on
    the wire should call it. State and plan files keep :meth:`fingerprint` instead, so a rotation is visible without
    the value ever being stored.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the value: safe to store and compare."""
        return "sha256:" + hashlib.sha256(self._value.encode()).hexdigest()

    def __repr__(self) -> str:
        return "Secret(****)"

    def __str__(self) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
