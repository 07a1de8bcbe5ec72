"""Applies that outlive their credentials: AWS credentials expiring mid-wave, the Clumio API token revoked during a
gate, and the S3 state backend failing during journal writes. Each stops with exit 4 and its journal kept (or rides
the fault out), and the next run of the same plan file resumes — exactly the planned operations, nothing lost.

In process on the sandbox's VirtualClock: apply's sleeper advances the clock and, at the chosen moment, fires the
world event, as a clock on the wall would."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import (
    cli,
    demo_config,
    instances,
    no_secret_leaks,  # noqa: F401 - fixture
    operations,
    sleeping_with,
    use_virtual_clock,
)

pytestmark = pytest.mark.usefixtures("no_secret_leaks")
STATE_BUCKET = "team-state"


@pytest.fixture
def world(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_virtual_clock(sandbox_env, monkeypatch)
    return sandbox_env


def fire_when(world: Any, monkeypatch: pytest.MonkeyPatch, condition: Callable[[], bool],
              event: Callable[[], None]) -> list[bool]:
    """Fire ``event`` once, at the first of apply's sleeps where ``condition`` holds."""
    clock = world.world.clock
    fired: list[bool] = []

    def sleep(seconds: float) -> None:
        if not fired and condition():
            fired.append(True)
            event()
        clock.advance(seconds)

    sleeping_with(monkeypatch, clock, sleep)
    return fired


def running_operation(world: Any) -> str | None:
    sets = world.world.status()["stack_sets"]
    running: str | None = sets[0]["running_operation"] if sets else None
    return running


def planned(capsys: pytest.CaptureFixture[str], config: Path, planfile: Path) -> dict[str, Any]:
    run = cli(capsys, "plan", "-c", str(config), "--out", str(planfile))
    assert run.code == 0, run.text
    data: dict[str, Any] = json.loads(planfile.read_text())
    return data


def instance_operation_ids(plan: dict[str, Any]) -> list[str]:
    return sorted(op["operation_id"] for op in plan["operations"] if op["kind"] != "CreateStackSet")


def assert_converged(world: Any, capsys: pytest.CaptureFixture[str], config: Path, plan: dict[str, Any]) -> None:
    """Exactly one AWS operation per planned step (no second operation), every planned instance CURRENT (none
    lost), and a plan that has nothing left to do."""
    ops = operations(world)
    assert sorted(o["OperationId"] for o in ops) == instance_operation_ids(plan)
    assert {o["Status"] for o in ops} == {"SUCCEEDED"}
    rows = {(r["Account"], r["Region"]): r["Status"] for r in instances(world)}
    assert set(rows) == {(c["account"], c["region"]) for c in plan["changes"]}
    assert set(rows.values()) == {"CURRENT"}
    again = cli(capsys, "plan", "-c", str(config), "--detailed-exitcode")
    assert again.code == 0, again.text


def test_aws_credentials_expiring_mid_wave_stop_with_exit_4_and_the_next_run_resumes(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    plan = planned(capsys, config, planfile)
    critical = instance_operation_ids(plan)[1]
    fired = fire_when(world, monkeypatch, lambda: running_operation(world) == critical,
                      lambda: world.world.apply_event("expire-credentials", {}))

    stopped = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert fired and stopped.code == 4, stopped.text
    assert "Apply stopped (exit 4): AWS credentials have expired" in stopped.out
    assert f"still running in AWS: {critical}" in stopped.out and "resume: nothing is lost" in stopped.out
    state = json.loads((tmp_path / ".clumio-org" / "state.json").read_text())
    assert state["last_apply"]["outcome"] == "suspended" and not state["last_apply"].get("finished_at")
    assert {e["operation_id"]: e["status"] for e in state["journal"]}[critical] == "RUNNING"
    assert not (tmp_path / ".clumio-org" / "state.json.lock").exists()

    world.world.apply_event("renew-credentials", {})  # the re-run CI job has fresh credentials
    resumed = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert resumed.code == 0, resumed.text
    assert f"resumed: following {critical}" in resumed.out or "resuming plan" in resumed.out
    assert_converged(world, capsys, config, plan)


def test_a_clumio_token_revoked_during_the_gate_stops_with_exit_4_and_a_new_token_resumes(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    plan = planned(capsys, config, planfile)
    canary = instance_operation_ids(plan)[0]

    def canary_done() -> bool:
        return any(o["OperationId"] == canary and o["Status"] == "SUCCEEDED" for o in operations(world))

    fired = fire_when(world, monkeypatch, canary_done, lambda: world.world.apply_event(
        "revoke-clumio-token", {"new_token": "rotated-api-token"}))

    stopped = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert fired and stopped.code == 4, stopped.text
    assert "Apply stopped (exit 4): Clumio rejected the API token" in stopped.out
    assert len(operations(world)) == 1  # nothing submitted after the gate broke off

    monkeypatch.setenv("CLUMIO_API_TOKEN", "rotated-api-token")
    resumed = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert resumed.code == 0, resumed.text
    assert_converged(world, capsys, config, plan)
    world.world.clumio.revoked_tokens.clear()  # so the secret scan after the test can read the parameters


def s3_state_config(world: Any, tmp_path: Path) -> Path:
    world.client("s3").create_bucket(Bucket=STATE_BUCKET)
    config = demo_config(tmp_path)
    text = config.read_text()
    head = text[:text.index("state:")]
    config.write_text(head + f"state:\n  backend: s3\n  bucket: {STATE_BUCKET}\n  key: prod/state.json\n")
    return config


@pytest.mark.slow  # botocore's retry backoff sleeps for real (seconds)
def test_s3_faults_during_journal_writes_are_ridden_out_and_the_apply_converges(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, planfile = s3_state_config(world, tmp_path), tmp_path / "plan.json"
    plan = planned(capsys, config, planfile)
    for spec in ({"key": "prod/state.json", "methods": ["PUT"], "code": "InternalError", "count": 4},
                 {"key": "prod/state.json", "methods": ["PUT"], "code": "InternalError", "count": 3, "after": True},
                 {"key": "prod/state.json", "methods": ["GET"], "code": "SlowDown", "count": 3},
                 {"key": "prod/state.json.lock", "methods": ["PUT", "DELETE"], "code": "ServiceUnavailable",
                  "count": 2},
                 {"key": "*", "latency_ms": 5, "count": 100}):
        world.world.apply_event("s3-fault", spec)

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert run.code == 0, run.text
    assert all(f["count"] == 0 for f in world.world.s3_faults if f["code"])  # every fault was met
    assert_converged(world, capsys, config, plan)


@pytest.mark.slow  # botocore's retry backoff sleeps for real (seconds)
def test_the_state_backend_failing_mid_wave_stops_with_exit_4_and_the_next_run_resumes(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config, planfile = s3_state_config(world, tmp_path), tmp_path / "plan.json"
    plan = planned(capsys, config, planfile)
    critical = instance_operation_ids(plan)[1]
    fired = fire_when(world, monkeypatch, lambda: running_operation(world) == critical,
                      lambda: world.world.apply_event("s3-fault", {"key": "prod/state.json", "methods": ["PUT"],
                                                                   "code": "ServiceUnavailable"}))

    stopped = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert fired and stopped.code == 4, stopped.text
    assert "Apply stopped (exit 4): cannot write s3://team-state/prod/state.json: ServiceUnavailable" in stopped.out

    world.world.apply_event("s3-fault", {"clear": True})
    resumed = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert resumed.code == 0, resumed.text
    assert_converged(world, capsys, config, plan)
