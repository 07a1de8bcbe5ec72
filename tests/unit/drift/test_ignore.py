"""The ignore file: reviewed exceptions that match by category/StackSet/account/region and expire."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from reconciler.core.errors import ConfigError
from reconciler.drift.ignore import apply_ignores, baseline_text, load_ignore_file, write_baseline
from reconciler.drift.model import Category, Finding, Severity

TODAY = date(2026, 11, 27)
F_STATUS = Finding(Category.STATUS, Severity.ERROR, "FAILED: boom", "clumio-org", "333300000001", "us-east-1")
F_STATUS2 = Finding(Category.STATUS, Severity.ERROR, "FAILED: boom", "clumio-org", "444400000001", "us-east-1")
F_VERSION = Finding(Category.VERSION, Severity.WARNING, "update available", "clumio-org")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".clumio-org-ignore.yaml"
    path.write_text(text)
    return path


def test_entry_with_globs_silences_only_what_it_matches(tmp_path: Path) -> None:
    path = write(tmp_path, """
ignore:
  - category: status
    account: "3333*"
    region: us-*
    reason: known broken role, ticket OPS-12
    owner: platform-team
    expires: 2026-12-31
""")
    reported, ignored = apply_ignores([F_STATUS, F_STATUS2, F_VERSION], load_ignore_file(path), TODAY)
    assert reported == [F_STATUS2, F_VERSION]
    assert [(i.finding, i.owner, i.expires) for i in ignored] == [(F_STATUS, "platform-team", "2026-12-31")]


def test_entry_is_honoured_on_its_expiry_date_and_reported_the_day_after(tmp_path: Path) -> None:
    path = write(tmp_path, """
ignore:
  - {category: version, reason: wait for the Q1 change window, owner: alice, expires: 2026-11-27}
""")
    entries = load_ignore_file(path)
    reported, ignored = apply_ignores([F_VERSION], entries, TODAY)
    assert reported == [] and len(ignored) == 1

    reported, ignored = apply_ignores([F_VERSION], entries, date(2026, 11, 28))
    assert ignored == []
    assert F_VERSION in reported
    [expired] = [f for f in reported if f.category is Category.IGNORE]
    assert expired.severity is Severity.ERROR
    assert "expired on 2026-11-27" in expired.reason and "alice" in expired.reason


@pytest.mark.parametrize("entry, message", [
    ("{category: status, owner: a, expires: 2026-12-01}", "missing reason"),
    ("{category: status, reason: r, expires: 2026-12-01}", "missing owner"),
    ("{category: status, reason: r, owner: a}", "missing expires"),
    ("{category: status, reason: r, owner: a, expires: next week}", "expires must be a date"),
    ("{category: stauts, reason: r, owner: a, expires: 2026-12-01}", "matches no category"),
    ("{category: status, acount: '1', reason: r, owner: a, expires: 2026-12-01}", "unknown field(s) acount"),
])
def test_invalid_entries_are_config_errors_naming_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, f"ignore:\n  - {entry}\n")
    with pytest.raises(ConfigError) as err:
        load_ignore_file(path)
    assert "ignore entry #1" in err.value.message and message in err.value.message


def test_missing_or_empty_file_ignores_nothing(tmp_path: Path) -> None:
    assert load_ignore_file(tmp_path / "absent.yaml") == ()
    assert load_ignore_file(write(tmp_path, "")) == ()


def test_baseline_round_trips_and_silences_exactly_the_current_findings(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    assert write_baseline(path, [F_STATUS, F_VERSION, F_VERSION], TODAY) == 2
    data = yaml.safe_load(path.read_text())
    assert data["ignore"][0] == {"category": "status", "stack_set": "clumio-org", "account": "333300000001",
                                 "region": "us-east-1", "reason": "baseline: FAILED: boom", "owner": "TODO-owner",
                                 "expires": "2026-12-27"}
    reported, ignored = apply_ignores([F_STATUS, F_STATUS2, F_VERSION], load_ignore_file(path), TODAY)
    assert reported == [F_STATUS2] and len(ignored) == 2
    assert "Review every entry" in baseline_text([], TODAY)


def test_the_shipped_example_ignore_file_loads() -> None:
    example = Path(__file__).parents[3] / "examples" / "ci" / "clumio-org-ignore.example.yml"
    entries = load_ignore_file(example)
    assert [e.category for e in entries] == ["membership", "version", "clumio"]
    assert all(e.owner and e.reason for e in entries)
