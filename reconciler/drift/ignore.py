"""The ignore file (``.clumio-org-ignore.yaml``): reviewed, owned, expiring exceptions to the drift report.

Each entry matches findings by category, StackSet, account and region (shell-style globs; an omitted field matches
anything) and must say why (``reason``), who answers for it (``owner``) and until when (``expires``, a date).
An entry is honoured up to and including its expiry date. After that it silences nothing and becomes a finding of
its own (category ``ignore``, severity error), which counts as drift (exit 2) like any other: the nightly job turns
red until someone renews the entry or fixes what it hid. Nothing is silenced forever.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from reconciler.config.diagnostics import sort_diagnostics
from reconciler.config.encoding import MAX_BYTES, decode
from reconciler.config.source import Document, read_document
from reconciler.core.errors import ConfigError
from reconciler.drift.model import Category, Finding, IgnoredFinding, Severity

IGNORE_FILE_NAME = ".clumio-org-ignore.yaml"
BASELINE_DAYS = 30
PLACEHOLDER_OWNER = "TODO-owner"
_MATCH_FIELDS = ("category", "stack_set", "account", "region")
_REQUIRED = ("reason", "owner", "expires")


@dataclass(frozen=True)
class IgnoreEntry:
    """One exception. ``index`` is its position in the file (1-based), for messages."""

    index: int
    reason: str
    owner: str
    expires: date
    category: str = "*"
    stack_set: str = "*"
    account: str = "*"
    region: str = "*"

    def expired(self, today: date) -> bool:
        return today > self.expires

    def matches(self, finding: Finding) -> bool:
        values = (finding.category.value, finding.stack_set or "", finding.account or "", finding.region or "")
        patterns = (self.category, self.stack_set, self.account, self.region)
        return all(pattern == "*" or fnmatch.fnmatchcase(value, pattern) for value, pattern in zip(values, patterns,
                                                                                                    strict=True))

    def describe(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in _MATCH_FIELDS if getattr(self, name) != "*"]
        return f"#{self.index} ({', '.join(parts) or 'everything'})"


def default_ignore_path(config_path: Path) -> Path:
    return config_path.parent / IGNORE_FILE_NAME


def _parse(name: str, raw: bytes) -> tuple[object, Document | None]:
    """The file's data through the desired-state reader (bounded size, depth and aliases, located problems), or
    a ConfigError naming the first problem at FILE:LINE:COL."""
    decoded = decode(name, raw) if len(raw) <= MAX_BYTES else None
    if decoded is None:
        raise ConfigError(f"{name}: the ignore file is over {MAX_BYTES:,} bytes")
    if decoded.text is None:
        first = decoded.diagnostics[0]
        raise ConfigError(f"{first.location()}: {first.message}", hint=first.hint)
    doc = read_document(name, decoded.text, {})
    problems = [d for d in doc.diagnostics if d.message != "the file is empty"]
    if problems:
        first = sort_diagnostics(problems)[0]
        raise ConfigError(f"{first.location()}: {first.message}",
                          hint=first.hint or "see examples/ci/clumio-org-ignore.example.yml for the format")
    return doc.data, doc


def entries_from_bytes(name: str, raw: bytes) -> tuple[IgnoreEntry, ...]:
    """Check an ignore file's bytes (``raw``, at most MAX_BYTES + 1 of them; reconciler.files.ignore reads the
    file); every problem is a ConfigError naming the entry."""
    data, doc = _parse(name, raw)
    if data is None:
        return ()
    entries = data.get("ignore", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"{name}: expected a list under 'ignore:'",
                          hint="ignore:\n  - {category: status, account: '1234*', reason: …, owner: …, "
                               "expires: 2026-12-31}")
    prefix = ("ignore",) if isinstance(data, dict) else ()
    return tuple(_entry(_where(name, doc, (*prefix, i - 1)), i, item) for i, item in enumerate(entries, start=1))


def _where(name: str, doc: Document | None, at: tuple[str | int, ...]) -> str:
    if doc is None or at not in doc.values:
        return name
    line, column = doc.values[at]
    return f"{name}:{line}:{column}"


def _entry(place: str, index: int, item: Any) -> IgnoreEntry:
    where = f"{place}: ignore entry #{index}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} is not a mapping")
    unknown = sorted(set(item) - set(_MATCH_FIELDS) - set(_REQUIRED))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}",
                          hint=f"allowed: {', '.join(_MATCH_FIELDS + _REQUIRED)}")
    missing = [name for name in _REQUIRED if not str(item.get(name) or "").strip()]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}",
                          hint="every entry needs a reason, an owner and an expiry date, so nothing is ignored "
                               "forever")
    expires = item["expires"]
    if isinstance(expires, datetime):
        expires = expires.date()
    elif isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires.strip())
        except ValueError:
            expires = None
    if not isinstance(expires, date):
        raise ConfigError(f"{where}: expires must be a date like 2026-12-31, got {item['expires']!r}")
    category = str(item.get("category", "*"))
    known = {c.value for c in Category}
    if not any(fnmatch.fnmatchcase(value, category) for value in known):
        raise ConfigError(f"{where}: category {category!r} matches no category",
                          hint=f"categories: {', '.join(sorted(known))}")
    return IgnoreEntry(index=index, reason=str(item["reason"]), owner=str(item["owner"]), expires=expires,
                       category=category, stack_set=str(item.get("stack_set", "*")),
                       account=str(item.get("account", "*")), region=str(item.get("region", "*")))


def apply_ignores(findings: Sequence[Finding], entries: Iterable[IgnoreEntry],
                  today: date) -> tuple[list[Finding], list[IgnoredFinding]]:
    """Split findings into (reported, ignored). Expired entries silence nothing and each adds an ``ignore``
    finding; live entries silence every finding they match (an ``ignore`` finding is never silenced)."""
    active: list[IgnoreEntry] = []
    reported: list[Finding] = []
    for entry in entries:
        if entry.expired(today):
            reported.append(Finding(
                Category.IGNORE, Severity.ERROR,
                f"ignore entry {entry.describe()} expired on {entry.expires.isoformat()} (owner {entry.owner}): "
                "renew it with a new expiry or fix what it hid",
                details=(("entry", str(entry.index)), ("entry_reason", entry.reason), ("owner", entry.owner),
                         ("expires", entry.expires.isoformat()))))
        else:
            active.append(entry)
    ignored: list[IgnoredFinding] = []
    for finding in findings:
        match = next((e for e in active if e.matches(finding)), None) if finding.category is not Category.IGNORE \
            else None
        if match is None:
            reported.append(finding)
        else:
            ignored.append(IgnoredFinding(finding, match.reason, match.owner, match.expires.isoformat()))
    return reported, ignored


def baseline_text(findings: Iterable[Finding], today: date, days: int = BASELINE_DAYS) -> str:
    """An ignore file that silences exactly ``findings``, to review: placeholder owner, expiry ``days`` out."""
    expires = (today + timedelta(days=days)).isoformat()
    entries: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()
    for f in findings:
        if f.category is Category.IGNORE:
            continue  # an expired entry is fixed by editing the entry, not by another entry
        ident = (f.category.value, f.stack_set or "*", f.account or "*", f.region or "*")
        if ident in seen:
            continue
        seen.add(ident)
        entry = dict(zip(_MATCH_FIELDS, ident, strict=True))
        entry = {k: v for k, v in entry.items() if v != "*"}
        entry.update(reason=f"baseline: {f.reason}", owner=PLACEHOLDER_OWNER, expires=expires)
        entries.append(entry)
    header = (
        "# clumio-org drift ignore file (baseline written by `clumio-org drift --write-ignore`).\n"
        "# Review every entry: say why it is acceptable, who owns it, and keep the expiry short.\n"
        "# Globs work in category, stack_set, account and region; an expired entry is reported as drift.\n"
    )
    body = yaml.safe_dump({"ignore": entries}, sort_keys=False, default_flow_style=False, width=120)
    return header + body


def baseline_count(text: str) -> int:
    """How many entries a baseline text (:func:`baseline_text`) holds."""
    loaded = yaml.safe_load(text) or {}
    return len(loaded.get("ignore", []))
