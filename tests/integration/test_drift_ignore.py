"""The ignore file end to end: an ignored finding does not count until its expiry passes; a baseline silences the
current findings; an expired entry is itself drift."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.drift_support import DriftWorld, deploy, make_world


@pytest.fixture
def world(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> DriftWorld:
    w = make_world(sandbox, tmp_path, monkeypatch, capsys)
    deploy(w)
    w.edit_config("targets:\n", "targets:\n  suspended_accounts: remove\n")  # so a suspension is drift
    w.event("suspend-account", account="300000000002")
    return w


def test_ignored_finding_does_not_count_until_its_expiry_passes(world: DriftWorld) -> None:
    today = world.sandbox.world.clock.now().date()
    (world.config.parent / ".clumio-org-ignore.yaml").write_text(yaml.safe_dump({"ignore": [{
        "category": "membership", "account": "30000000000*", "reason": "account closing, ticket OPS-7",
        "owner": "platform-team", "expires": (today + timedelta(days=1)).isoformat()}]}))
    code, report = world.drift_json()
    assert code == 0, report
    assert report["findings"] == [] and len(report["ignored"]) == 3
    assert report["ignored"][0]["ignore"]["owner"] == "platform-team"

    world.sandbox.world.clock.advance(86400)  # the expiry day itself still counts as covered
    assert world.drift_json()[0] == 0

    world.sandbox.world.clock.advance(86400)
    code, report = world.drift_json()
    assert code == 2
    assert report["summary"]["membership"] == 3 and report["summary"]["ignore"] == 1
    [expired] = world.findings(report, "ignore")
    assert "expired on" in expired["reason"] and expired["severity"] == "error"


def test_write_ignore_baseline_silences_todays_findings(world: DriftWorld, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    code, _ = world.drift("--write-ignore", str(baseline))
    assert code == 2
    entries = yaml.safe_load(baseline.read_text())["ignore"]
    assert len(entries) == 3 and {e["owner"] for e in entries} == {"TODO-owner"}
    code, out = world.drift("--ignore-file", str(baseline))
    assert code == 0, out
    assert "Ignored (3" in out
    assert "still name owner TODO-owner" in out


def test_broken_ignore_file_is_an_error_not_a_silent_pass(world: DriftWorld) -> None:
    (world.config.parent / ".clumio-org-ignore.yaml").write_text("ignore:\n  - {category: membership}\n")
    code, _ = world.drift()
    assert code == 1
