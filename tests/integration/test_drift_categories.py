"""``clumio-org drift`` end to end on the sandbox: each category triggered by a world event, reported with the right
key and reason; a clean org reports nothing and exits 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.drift_support import DriftWorld, deploy, make_world

REGIONS = ["eu-west-1", "us-east-1", "us-west-2"]


@pytest.fixture
def fresh(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> DriftWorld:
    return make_world(sandbox, tmp_path, monkeypatch, capsys)


@pytest.fixture
def world(fresh: DriftWorld) -> DriftWorld:
    deploy(fresh)
    return fresh


def keys(findings: list[dict[str, Any]]) -> list[tuple[str | None, str | None, str | None]]:
    return sorted((f["stack_set"], f["account"], f["region"]) for f in findings)


def test_a_deployed_org_reports_no_drift_and_exits_0(world: DriftWorld) -> None:
    code, out = world.drift()
    assert code == 0, out
    assert out.startswith("No drift")
    code, report = world.drift_json()
    assert (code, report["findings"], report["drifted"]) == (0, [], False)


def test_no_stackset_yet_is_one_membership_finding(fresh: DriftWorld) -> None:
    code, report = fresh.drift_json()
    assert code == 2
    [f] = report["findings"]
    assert (f["category"], f["stack_set"], f["account"]) == ("membership", "clumio-org", None)
    assert "does not exist" in f["reason"]


def test_account_added_to_a_targeted_ou_without_auto_deployment_is_membership(fresh: DriftWorld) -> None:
    fresh.edit_config("  name: clumio-org\n", "  name: clumio-org\n  auto_deployment:\n    enabled: false\n")
    deploy(fresh, auto_deployment=False)
    account = fresh.event("add-account", name="freight-prod", ou="ou-d3m0-prodwork")["account"]
    code, report = fresh.drift_json()
    assert code == 2
    found = fresh.findings(report, "membership")
    assert keys(found) == [("clumio-org", account, r) for r in REGIONS]
    assert all(f["reason"].startswith("no stack instance: account in /Workloads/Prod is targeted but not deployed")
               and f["severity"] == "error" for f in found)
    assert report["summary"]["membership"] == 3 and sum(report["summary"].values()) == 3


def test_account_added_with_auto_deployment_on_is_deployed_and_no_drift(world: DriftWorld) -> None:
    world.event("add-account", name="freight-prod", ou="ou-d3m0-prodwork")
    world.settle()
    code, out = world.drift()
    assert code == 0, out


def test_suspended_account_is_kept_and_noted_not_drift(world: DriftWorld) -> None:
    world.event("suspend-account", account="300000000002")
    code, report = world.drift_json()
    assert code == 0, report
    assert any("300000000002" in note and "not drift" in note for note in report["notes"])


def test_suspended_account_still_holding_instances_is_membership_when_removal_is_asked(world: DriftWorld) -> None:
    world.edit_config("targets:\n", "targets:\n  suspended_accounts: remove\n")
    world.event("suspend-account", account="300000000002")
    code, report = world.drift_json()
    assert code == 2
    found = world.findings(report, "membership")
    assert keys(found) == [("clumio-org", "300000000002", r) for r in REGIONS]
    assert all(f["reason"] == "account is SUSPENDED but still has a stack instance" for f in found)
    assert all("RetainStacks" in f["details"]["hint"] for f in found)


def test_account_failing_its_stack_is_a_status_finding_with_the_status_reason(fresh: DriftWorld) -> None:
    fresh.event("fail-account", account="400000000001")
    deploy(fresh)
    code, report = fresh.drift_json()
    assert code == 2
    found = fresh.findings(report, "status")
    assert keys(found) == [("clumio-org", "400000000001", r) for r in REGIONS]
    assert all(f["severity"] == "error" and f["reason"].startswith("FAILED: ") and
               "Access denied by a service control policy" in f["reason"] for f in found)
    assert fresh.findings(report, "clumio") == []  # no connection is expected from a stack that failed


def test_new_clumio_template_is_an_update_available_version_finding(world: DriftWorld) -> None:
    world.event("release-template", version="24.5")
    code, report = world.drift_json()
    assert code == 2
    [f] = report["findings"]
    assert (f["category"], f["stack_set"], f["account"], f["region"]) == ("version", "clumio-org", None, None)
    assert f["reason"] == "update available: Clumio template 24.5 (StackSet runs 24.4)"


@pytest.mark.slow
def test_hand_edited_stack_is_found_by_detect_with_its_resources(world: DriftWorld) -> None:
    world.event("drift-stack", account="300000000001", region="us-west-2")
    code, report = world.drift_json()
    assert code == 0, report  # no detection yet: the last result says nothing about it
    assert report["detections"][0]["status"] == "NOT_CHECKED"

    code, report = world.drift_json("--detect", "--timeout", "600")
    assert code == 2
    [f] = report["findings"]
    assert (f["category"], f["account"], f["region"]) == ("resources", "300000000001", "us-west-2")
    assert any(k.startswith("resource ClumioIAMRole") for k in f["details"]), f["details"]
    assert report["detections"][0]["started_here"] is True

    # Without --detect the next run reports the last completed detection, and how old it is.
    world.sandbox.world.clock.advance(7200)
    code, report = world.drift_json()
    assert code == 2 and report["findings"][0]["category"] == "resources"
    assert report["detections"][0]["started_here"] is False and report["detections"][0]["age_seconds"] >= 7200


def test_unlinked_connection_is_a_clumio_finding(world: DriftWorld) -> None:
    world.event("unlink-connection", account="210000000001", region="eu-west-1")
    code, report = world.drift_json()
    assert code == 2
    [f] = report["findings"]
    assert (f["category"], f["stack_set"], f["account"], f["region"]) == (
        "clumio", "clumio-org", "210000000001", "eu-west-1")
    assert f["reason"] == "Clumio connection is unlinked"


@pytest.mark.slow
def test_every_format_exits_2_on_drift_never_shows_secrets_and_fail_on_narrows_it(world: DriftWorld) -> None:
    world.event("release-template", version="24.5")
    token = world.sandbox.env()["CLUMIO_API_TOKEN"]
    for fmt in ("text", "markdown", "json", "junit"):
        code, out = world.drift("--format", fmt)
        assert code == 2, fmt
        assert "update available" in out and token not in out
    code, out = world.drift("--fail-on", "membership,status")
    assert code == 0 and "update available" in out
    assert world.drift("--fail-on", "nonsense")[0] == 1


def test_detection_cut_short_still_reports_and_the_next_run_follows_it(world: DriftWorld) -> None:
    world.event("drift-stack", account="300000000001", region="us-west-2")
    code, report = world.drift_json("--detect", "--timeout", "0")
    assert code == 0  # nothing known yet: the last completed detection is "never"
    assert any("still running after 0 s" in note for note in report["notes"])
    assert report["detections"][0]["status"] == "NOT_CHECKED"
    # Only one detection may run per StackSet: the next --detect waits for the one already running.
    code, report = world.drift_json("--detect", "--timeout", "600")
    assert code == 2 and report["findings"][0]["category"] == "resources"
