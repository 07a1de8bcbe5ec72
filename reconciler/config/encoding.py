"""The bytes of a desired-state file as text YAML can read, or every reason they are not, each at LINE:COLUMN.

Checked before YAML sees the text, so each problem is reported in the file's own lines and columns (PyYAML's reader
reports these as a character offset into "<unicode string>"), and so what a reviewer reads is what the tool reads:
characters that reorder or hide text are refused, not just escaped.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from reconciler.config.diagnostics import Diagnostic
from reconciler.core.terminal import escape_char

# A desired state for 10,000 accounts, every account id written out twice, is well under 1 MiB.
MAX_BYTES = 2 * 1024 * 1024
MAX_CHARACTER_PROBLEMS = 20

# UTF-32 LE starts with the UTF-16 LE mark, so it is tried first.
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# What YAML's reader refuses (yaml.reader.Reader.NON_PRINTABLE, minus the line breaks it accepts) ...
# (a pattern string, compiled only inside _character_problems: compiling this class costs ~7 ms of every start-up)
_NOT_YAML = "[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
# ... and what it accepts but a reviewer cannot see: bidi controls (CVE-2021-42574), zero-width marks, a byte-order
# mark inside the text, and the line breaks YAML counts that editors do not (NEL, U+2028, U+2029).
_HIDDEN = re.compile("[\x85\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\ufeff]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class DecodedText:
    """``text`` (line ends normalized to ``\\n``) when the bytes are usable; ``diagnostics`` says why not."""

    text: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset`` in ``\\n``-separated ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _describe(char: str) -> str:
    if _BIDI.match(char):
        return f"invisible bidirectional control character {escape_char(char)} (it makes text display in another order"\
               " than it is read)"
    if char in "\x85\u2028\u2029":
        return f"unusual line break {escape_char(char)} (YAML counts it as a new line, most editors do not)"
    if char == "\ufeff":
        return "byte-order mark \\ufeff inside the file (only the very first character may be one)"
    if _HIDDEN.match(char):
        return f"invisible character {escape_char(char)}"
    return f"control character {escape_char(char)} (YAML allows none but tab and line breaks)"


def _character_problems(path: str, text: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for match in re.finditer(f"{_NOT_YAML}|{_HIDDEN.pattern}", text):
        if len(found) == MAX_CHARACTER_PROBLEMS:
            line, column = line_column(text, match.start())
            found.append(Diagnostic(path, line, column, "more characters like these follow; fix the ones above first"))
            break
        line, column = line_column(text, match.start())
        found.append(Diagnostic(path, line, column, _describe(match.group()), "delete it (or retype the line)"))
    return found


def decode(path: str, raw: bytes) -> DecodedText:
    """UTF-8 text with line ends normalized, or located diagnostics (a UTF-8 byte-order mark at the start is fine:
    Windows editors write one and YAML allows it)."""
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            return DecodedText(None, [Diagnostic(
                path, 1, 1, f"the file is {name} text (it starts with a {name} byte-order mark), not UTF-8",
                f"save it as UTF-8, e.g. `iconv -f {name} -t UTF-8 FILE > FILE.new`")])
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start].decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        line, column = line_column(before, len(before))
        binary = b"\x00" in raw[:8192]
        message = (f"not a text file: byte 0x{raw[error.start]:02x} is not UTF-8" if binary
                   else f"byte 0x{raw[error.start]:02x} is not UTF-8 text")
        return DecodedText(None, [Diagnostic(path, line, column, message,
                                             "save the file as UTF-8 (a desired-state file is YAML text)")])
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems = _character_problems(path, text)
    return DecodedText(None if problems else text, problems)
