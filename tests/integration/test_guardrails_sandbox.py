"""Guardrails end to end on the sandbox (docs/reference/guardrails.md §5, §6): a region-deny SCP on one OU and an
IAM-deny SCP on one account. The plan names exactly the pairs that then fail when applied with the check only
warning; under ``on_deny: skip`` apply completes (exit 0) listing them, and plan and drift stay at 0."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import Run, cli, instances, use_virtual_clock

WORLD = Path(str(files("reconciler.examples") / "sandbox" / "guardrails.yaml"))
CONFIG = """version: 1
organization:
  id: o-g4rd000001
  management_account: "999999999999"
  home_region: us-east-1
clumio:
  api_url: http://127.0.0.1/clumio
targets:
  organization: true
regions: [us-east-1, us-west-2, eu-west-1]
rollout:
  waves:
    - {name: all, rest: true, max_concurrent: "100%", failure_tolerance: "100%"}
guardrails:
  on_deny: {mode}
"""
# /Apps (app-one, app-two, Nested/nested-three) may not use us-west-2; other-five may not create IAM roles anywhere.
EXPECTED = {("111111111111", "us-west-2"), ("222222222222", "us-west-2"), ("333333333333", "us-west-2"),
            ("555555555555", "us-east-1"), ("555555555555", "us-west-2"), ("555555555555", "eu-west-1")}


@pytest.fixture
def world(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    sandbox = sandbox_factory(WORLD)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    use_virtual_clock(sandbox, monkeypatch)
    return sandbox


def config(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / "clumio-org.yaml"
    path.write_text(CONFIG.replace("{mode}", mode))
    return path


def planned_failures(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[Run, dict[tuple[str, str], str]]:
    run = cli(capsys, "plan", "-c", str(path), "--format", "json")
    assert run.code == 0, run.text
    data = json.loads(run.out)
    return run, {(f["account"], f["region"]): f["reason"] for f in data["guardrails"]["findings"]
                 if f["verdict"] == "will fail"}


def test_plan_names_exactly_the_pairs_that_fail_when_applied_with_warn(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, "warn")
    _, named = planned_failures(capsys, path)
    assert set(named) == EXPECTED
    assert named[("111111111111", "us-west-2")].startswith(
        "will fail: SCP p-9a66de9b (OnlyUsEast1AndEuWest1) on /Apps denies cloudformation:CreateStack in us-west-2")
    assert named[("555555555555", "eu-west-1")] == (
        "will fail: SCP p-e18fd797 (NoIamOutsidePipeline) on account 555555555555 denies iam:CreateRole")
    text = cli(capsys, "plan", "-c", str(path))
    assert "Guardrails: 6 will fail, 0 unknown. (guardrails.on_deny: warn)" in text.out
    assert "Control Tower landing zone 3.3 does not govern region us-west-2" in text.out

    run = cli(capsys, "apply", "-c", str(path), "--auto-approve")
    assert run.code == 3, run.text
    failed = {(r["Account"], r["Region"]): r.get("StatusReason", "") for r in instances(world)
              if r.get("StackInstanceStatus", {}).get("DetailedStatus") == "FAILED"}
    assert set(failed) == EXPECTED
    assert "with an explicit deny in a service control policy" in failed[("555555555555", "us-east-1")]
    assert "ResourceType:AWS::IAM::Role" in failed[("555555555555", "us-east-1")]
    assert "cloudformation:CreateStack" in failed[("222222222222", "us-west-2")]


def test_skip_applies_the_rest_exits_0_lists_the_pairs_and_stays_clean(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, "skip")
    run = cli(capsys, "apply", "-c", str(path), "--auto-approve")
    assert run.code == 0, run.text
    assert "Skipped by guardrails (guardrails.on_deny: skip): 6 (account, region) pair(s)" in run.out
    for account, region in EXPECTED:
        assert any(line.startswith(f"  {account}  {region}") for line in run.out.splitlines())
    deployed = {(r["Account"], r["Region"]) for r in instances(world)}
    assert not deployed & EXPECTED
    assert len(deployed) == 5 * 3 - len(EXPECTED)
    plan = cli(capsys, "plan", "-c", str(path), "--detailed-exitcode")
    assert plan.code == 0, plan.text
    # The pairs are still desired and still denied: every later plan keeps naming them as skipped, with no change.
    assert plan.out.count("[skipped]") == len(EXPECTED)
    assert plan.out.rstrip().splitlines()[-1] == "No changes. The organization matches the desired state."
    drift = cli(capsys, "drift", "-c", str(path))
    assert drift.code == 0, drift.text


def test_refuse_stops_the_plan(world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "plan", "-c", str(config(tmp_path, "refuse")))
    assert run.code == 1
    assert "error: guardrails deny 6 planned (account, region) pair(s)" in run.err
    assert "hint:" in run.err


def test_apply_rechecks_before_each_wave_and_stops_on_a_denial_the_plan_did_not_name(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.apply.guardrails_recheck import GuardrailRecheck

    path = tmp_path / "clumio-org.yaml"
    path.write_text(CONFIG.replace("{mode}", "skip").replace("regions: [us-east-1, us-west-2, eu-west-1]",
                                                              "regions: [us-east-1]")
                    .replace('- {name: all, rest: true, max_concurrent: "100%", failure_tolerance: "100%"}',
                             "- {name: apps, ous: [/Apps]}\n    - {name: other, rest: true}"))
    org = world.client("organizations")
    policy = next(p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
                  if p["Name"] == "NoIamOutsidePipeline")
    check = GuardrailRecheck.__call__

    def attached_while_wave_apps_ran(self: GuardrailRecheck, wave: str, ops: Any) -> str | None:
        if wave == "other":  # someone attaches an SCP to other-six while the first wave runs
            org.attach_policy(PolicyId=policy, TargetId="666666666666")
        return check(self, wave, ops)

    monkeypatch.setattr(GuardrailRecheck, "__call__", attached_while_wave_apps_ran)
    run = cli(capsys, "apply", "-c", str(path), "--auto-approve")
    assert run.code == 3, run.text
    assert ("stopped before wave other: guardrails changed since the plan: 1 (account, region) pair(s) of wave "
            "other will now fail (666666666666/us-east-1: will fail: SCP") in run.out
    deployed = {(r["Account"], r["Region"]) for r in instances(world)}
    assert deployed == {("111111111111", "us-east-1"), ("222222222222", "us-east-1"), ("333333333333", "us-east-1")}


def test_under_warn_the_recheck_warns_and_the_wave_runs(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.apply.guardrails_recheck import GuardrailRecheck

    path = tmp_path / "clumio-org.yaml"
    path.write_text(CONFIG.replace("{mode}", "warn").replace("organization: true", "ous: [/Other]")
                    .replace("regions: [us-east-1, us-west-2, eu-west-1]", "regions: [us-east-1]"))
    org = world.client("organizations")
    policy = next(p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
                  if p["Name"] == "NoIamOutsidePipeline")
    check = GuardrailRecheck.__call__

    def attached_after_the_plan(self: GuardrailRecheck, wave: str, ops: Any) -> str | None:
        if wave == "all":
            org.attach_policy(PolicyId=policy, TargetId="666666666666")
        return check(self, wave, ops)

    monkeypatch.setattr(GuardrailRecheck, "__call__", attached_after_the_plan)
    run = cli(capsys, "apply", "-c", str(path), "--auto-approve")
    assert run.code == 3, run.text  # both /Other accounts fail: one named by the plan, one by the recheck
    assert ("warning: guardrails changed since the plan: 1 (account, region) pair(s) of wave all will now fail "
            "(666666666666/us-east-1:") in run.out
    failed = {r["Account"] for r in instances(world) if r.get("StackInstanceStatus", {}).get("DetailedStatus")
              == "FAILED"}
    assert failed == {"555555555555", "666666666666"}
