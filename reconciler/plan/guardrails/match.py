"""Three-valued matching of IAM wildcard patterns against values that are only partly known.

The StackSets execution role of a service-managed StackSet is ``stacksets-exec-<hash>`` with a hash nobody
announces, and the roles and topics the Clumio template creates carry names built from parameters. Such a value is a
*family*: known text with :data:`UNKNOWN` standing for "some string without a colon". A pattern matches a family
YES (every member), NO (no member) or MAYBE — and the evaluator turns MAYBE into "unknown", never into a guess.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

UNKNOWN = "\x00"  # one unknown, non-empty run of characters without ':' inside a family


class Tri(enum.Enum):
    """Three-valued truth (Kleene logic)."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"

    def negate(self) -> Tri:
        return {Tri.YES: Tri.NO, Tri.NO: Tri.YES, Tri.MAYBE: Tri.MAYBE}[self]


def any_of(values: Iterable[Tri]) -> Tri:
    """OR: YES if one is YES, NO if all are NO (and for none at all), else MAYBE."""
    seen_maybe = False
    for value in values:
        if value is Tri.YES:
            return Tri.YES
        seen_maybe = seen_maybe or value is Tri.MAYBE
    return Tri.MAYBE if seen_maybe else Tri.NO


def all_of(values: Iterable[Tri]) -> Tri:
    """AND: NO if one is NO, YES if all are YES (and for none at all), else MAYBE."""
    seen_maybe = False
    for value in values:
        if value is Tri.NO:
            return Tri.NO
        seen_maybe = seen_maybe or value is Tri.MAYBE
    return Tri.MAYBE if seen_maybe else Tri.YES


def _closure(pattern: str, states: set[int], wildcards: bool) -> set[int]:
    # A '*' may match nothing: from a star, the position after it is reachable too.
    out = set(states)
    stack = list(states)
    while stack:
        i = stack.pop()
        if wildcards and i < len(pattern) and pattern[i] == "*" and i + 1 not in out:
            out.add(i + 1)
            stack.append(i + 1)
    return out


def _step(pattern: str, states: set[int], char: str, wildcards: bool) -> set[int]:
    nxt: set[int] = set()
    for i in states:
        if i >= len(pattern):
            continue
        p = pattern[i]
        if wildcards and p == "*":
            nxt.add(i)
        elif (wildcards and p == "?") or p == char:
            nxt.add(i + 1)
    return _closure(pattern, nxt, wildcards)


def _glob(pattern: str, text: str) -> bool:
    """``*``/``?`` wildcards against a fully known text: the usual scan that, on a mismatch, lets the last star take
    one more character (no backtracking beyond it, so it stays linear in practice)."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def match(pattern: str, family: str, *, wildcards: bool = True, ignore_case: bool = False) -> Tri:
    """Does ``pattern`` (``*`` and ``?`` wildcards when ``wildcards``) match the family ``family``?

    Two state sets are kept while reading the family: ``must`` (pattern positions reached whatever the unknowns
    stand for) and ``may`` (positions reached for some choice). An unknown run keeps only the stars in ``must`` and
    opens every later position in ``may``. The end state in ``must`` means YES, absent from ``may`` means NO.
    """
    if ignore_case:
        pattern, family = pattern.lower(), family.lower()
    if UNKNOWN not in family:  # a plain value: both state sets stay equal, so the answer is YES or NO
        hit = _glob(pattern, family) if wildcards else pattern == family
        return Tri.YES if hit else Tri.NO
    must = _closure(pattern, {0}, wildcards)
    may = set(must)
    end = len(pattern)
    for char in family:
        if char == UNKNOWN:
            must = _closure(pattern, {i for i in must if wildcards and i < end and pattern[i] == "*"}, wildcards)
            lowest = min(may, default=end + 1)
            may = _closure(pattern, set(range(lowest, end + 1)), wildcards) if lowest <= end else set()
        else:
            must = _step(pattern, must, char, wildcards)
            may = _step(pattern, may, char, wildcards)
        if not may:
            return Tri.NO
    if end in must:
        return Tri.YES
    return Tri.MAYBE if end in may else Tri.NO


def match_arn(pattern: str, family: str, *, wildcards: bool = True) -> Tri:
    """ArnLike/ArnEquals and the Resource element: the six colon-separated parts are matched one by one (a ``*``
    does not cross a colon), the last part keeps its colons."""
    if pattern == "*" and wildcards:
        return Tri.YES
    p_parts = pattern.split(":", 5)
    f_parts = family.split(":", 5)
    if len(p_parts) != 6 or len(f_parts) != 6:
        return match(pattern, family, wildcards=wildcards)
    return all_of(match(p, f, wildcards=wildcards) for p, f in zip(p_parts, f_parts, strict=True))
