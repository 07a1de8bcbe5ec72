"""Text from files, AWS or Clumio made safe to print: no control or invisible character reaches the terminal."""

from __future__ import annotations

import unicodedata

# Cc: C0/C1 controls (ESC starts terminal escape sequences); Cf: invisible format characters, among them the bidi
# overrides that make text display in another order than it reads (CVE-2021-42574) and zero-width characters;
# Zl/Zp: U+2028/U+2029, line breaks to some programs and not to others.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_char(char: str) -> str:
    """``\\x1b``, ``\\u202e``: how one unprintable character is shown."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unprintable(char: str) -> bool:
    return unicodedata.category(char) in _ESCAPED_CATEGORIES


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, invisible and line-separator character escaped (``\\x1b``, ``\\u202e``), so a
    message stays on its line and shows exactly what the input holds; ``keep_newlines`` keeps ``\\n`` as a break
    (for messages that list one located problem per line)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        char if (keep_newlines and char == "\n") or not is_unprintable(char) else escape_char(char) for char in text
    )
