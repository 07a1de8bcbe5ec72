"""`clumio-org plan` end to end on the sandbox: a fresh org, a partial rollout, an account moving into a targeted OU,
a suspended account, delegated-admin mode, and the no-op plan right after a full apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.integration.apply_support import Run, cli, demo_config, use_virtual_clock

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
SUSPENDED = "320000000004"
MANAGEMENT = "100000000001"
DELEGATED_ADMIN = "210000000003"
CANARY = ("400000000001", "400000000002")


@pytest.fixture
def world(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_virtual_clock(sandbox_env, monkeypatch)
    return sandbox_env


def write_config(tmp_path: Path, name: str, *, targets: str, call_as: str = "SELF",
                 auto_deployment: bool = True) -> Path:
    """A small desired-state file for the demo world."""
    path = tmp_path / name
    path.write_text(f"""version: 1
stack_set:
  auto_deployment: {{enabled: {str(auto_deployment).lower()}}}
organization:
  id: o-demo7k2p9xq4
  management_account: "{MANAGEMENT}"
  home_region: us-east-1
  call_as: {call_as}
clumio:
  api_url: https://us-west-2.api.clumio.com
targets:
{targets}
regions: [us-east-1, us-west-2]
rollout:
  waves:
    - {{name: canary, sample: 2, max_concurrent: 2, failure_tolerance: 1}}
    - {{name: rest, rest: true, max_concurrent: "50%", failure_tolerance: "10%", concurrency_mode: soft}}
state:
  backend: local
  path: .clumio-org/state.json
""")
    return path


def plan_json(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[Run, dict[str, Any]]:
    run = cli(capsys, "plan", "-c", str(config), "--format", "json", *extra)
    assert run.code in (0, 2), run.text
    data = json.loads(run.out)
    jsonschema.validate(data, SCHEMA)
    return run, data


def pairs(data: dict[str, Any], action: str) -> set[tuple[str, str]]:
    return {(c["account"], c["region"]) for c in data["changes"] if c["action"] == action}


def test_fresh_org_plans_the_full_rollout_in_waves(world: Any, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    run = cli(capsys, "plan", "-c", str(config), "--detailed-exitcode", "--no-color")
    assert run.code == 2, run.text
    lines = run.out.rstrip("\n").splitlines()
    assert lines[-1] == "Plan: 73 to add, 0 to change, 0 to remove."
    assert "+ StackSet clumio-org will be created (SERVICE_MANAGED)" in run.out
    assert run.out.index("Wave 1/3 'canary'") < run.out.index("Wave 2/3 'critical'") < run.out.index("Wave 3/3 'rest'")
    skipped = [line for line in lines if line.startswith("  ") and " account" in line and "): " in line]
    # skipped accounts grouped by reason: "  REASON (N accounts): ID, ID"
    assert any(line.strip().startswith("account is SUSPENDED") and SUSPENDED in line for line in skipped)
    assert any(line.strip().startswith("management account") and MANAGEMENT in line for line in skipped)
    assert any(line.strip().startswith("excluded") and "500000000001" in line for line in skipped)
    # directly under the root, which holds the excluded /Sandbox: exclusions win, with the ways out
    assert any(line.strip().startswith("not deployed: reachable only through /, which holds the excluded /Sandbox")
               and "600000000001" in line for line in skipped)
    # one CreateStackSet, then one CreateStackInstances per wave, all regions in one call
    assert sum(1 for line in lines if " CreateStackInstances  clumio-org" in line) == 3


def test_after_part_is_applied_only_the_rest_is_planned(world: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    canary_only = write_config(tmp_path, "canary.yaml", targets="  ous: [/Canary]")
    applied = cli(capsys, "apply", "-c", str(canary_only), "--auto-approve")
    assert applied.code == 0, applied.text
    everything = write_config(tmp_path, "all.yaml", targets="  organization: true")
    _, data = plan_json(capsys, everything)
    assert data["stack_set_changes"] == []
    added = pairs(data, "add")
    assert added and not {a for a, _ in added} & set(CANARY)
    assert SUSPENDED not in {a for a, _ in added} and MANAGEMENT not in {a for a, _ in added}
    assert [(op["kind"], op["wave"]) for op in data["operations"]] == [
        ("CreateStackInstances", "canary"), ("CreateStackInstances", "rest")]


def test_account_moved_into_a_targeted_ou_appears(world: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Without auto-deployment, only the next apply reaches an account that joins a targeted OU.
    config = write_config(tmp_path, "prod.yaml", targets="  ous: [/Workloads/Prod]", auto_deployment=False)
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    _, before = plan_json(capsys, config, "--detailed-exitcode")
    assert before["changes"] == []
    mover = "500000000001"
    world.world.apply_event("move-account", {"account": mover, "ou": "/Workloads/Prod/Data"})
    run, after = plan_json(capsys, config, "--detailed-exitcode")
    assert run.code == 2
    assert pairs(after, "add") == {(mover, "us-east-1"), (mover, "us-west-2")}
    assert {c["reason"] for c in after["changes"]} == {"new account in /Workloads/Prod/Data"}
    assert after["live_fingerprint"] != before["live_fingerprint"]


def test_suspended_account_is_skipped_with_its_reason(world: Any, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "dev.yaml", targets="  ous: [/Workloads/Dev]")
    _, data = plan_json(capsys, config)
    skipped = {s["account"]: s["reason"] for s in data["skipped"]}
    assert "SUSPENDED" in skipped[SUSPENDED]
    assert SUSPENDED not in {c["account"] for c in data["changes"]}


def test_delegated_admin_mode_sees_the_management_accounts_stack_set(world: Any, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    as_admin = write_config(tmp_path, "admin.yaml", targets="  ous: [/Canary]", call_as="DELEGATED_ADMIN")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    first = cli(capsys, "apply", "-c", str(as_admin), "--auto-approve")
    assert first.code == 0, first.text
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", world.env()["AWS_ACCESS_KEY_ID"])
    as_management = write_config(tmp_path, "mgmt.yaml", targets="  ous: [/Canary]")
    run = cli(capsys, "plan", "-c", str(as_management), "--detailed-exitcode")
    assert run.code == 0, run.text
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    run = cli(capsys, "plan", "-c", str(as_admin), "--detailed-exitcode")
    assert run.code == 0, run.text
    assert run.out.rstrip("\n").splitlines()[-1].startswith("No changes.")


def test_plan_right_after_a_full_apply_exits_zero(world: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    run = cli(capsys, "plan", "-c", str(config), "--detailed-exitcode")
    assert run.code == 0, run.text
    assert run.out.rstrip("\n").splitlines()[-1] == "No changes. The organization matches the desired state."


def test_saved_plan_file_matches_json_output_and_holds_no_secret(world: Any, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    out = tmp_path / "plan.json"
    run = cli(capsys, "plan", "-c", str(config), "--format", "markdown", "--out", str(out))
    assert run.code == 0 and "**Plan: 73 to add, 0 to change, 0 to remove.**" in run.out
    saved = json.loads(out.read_text())
    jsonschema.validate(saved, SCHEMA)
    assert saved["state_serial"] is None and saved["desired_digest"]
    token = world.env()["CLUMIO_API_TOKEN"]
    assert token not in out.read_text() and token not in run.text


def test_config_error_is_one_line_not_a_traceback(world: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "bad.yaml", targets="  ous: [/NoSuchOu]")
    run = cli(capsys, "plan", "-c", str(config))
    assert run.code == 1
    assert "error:" in run.err and "Traceback" not in run.text
