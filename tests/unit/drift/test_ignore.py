"""The ignore file: reviewed exceptions that match by category/StackSet/account/region and expire."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from reconciler.core.errors import ConfigError
from reconciler.drift.ignore import apply_ignores, baseline_text
from reconciler.drift.model import Category, Finding, Severity
from reconciler.files.ignore import load_ignore_file, write_baseline

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


def test_a_named_ignore_file_that_is_missing_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ignore file .*missing\.yaml not found"):
        load_ignore_file(tmp_path / "missing.yaml", required=True)
    with pytest.raises(ConfigError, match="is a directory"):
        load_ignore_file(tmp_path, required=True)
    assert load_ignore_file(tmp_path / "missing.yaml") == ()  # the default file is optional


def test_drift_with_a_missing_ignore_file_exits_1_before_any_call(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli.app import main
    from tests.unit.config.helpers import VALID

    config = tmp_path / "clumio-org.yaml"
    config.write_text(VALID)
    assert main(["drift", "-c", str(config), "--ignore-file", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"error: ignore file {tmp_path / 'missing.yaml'} not found"


@pytest.mark.parametrize(("text", "where", "message"), [
    ("ignore:\n  - category: !!bool soft\n", ":2:15: ", '"soft" is not a valid !!bool value'),
    ("ignore: " + "[" * 50 + "]" * 50 + "\n", ":1:", "nested more than 20 levels deep"),
    ("ignore:\n  - reason: a\x1bb\n", ":2:14: ", "control character \\x1b"),
    ("ignore:\n  - [\n", ":3:1: ", "YAML syntax error"),
])
def test_a_broken_ignore_file_is_one_located_error(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_ignore_file(path)
    assert caught.value.message.startswith(f"{path}{where}") and message in caught.value.message
    assert "\n" not in caught.value.message


def test_entry_problems_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "ignore:\n  - {category: status, reason: r, owner: o, expires: 2026-12-31}\n"
                           "  - {category: membership}\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3:5: ignore entry #2: missing reason, owner, expires"):
        load_ignore_file(path)
