"""`clumio-org apply` end to end on the sandbox: waves, the Clumio gate, a failing canary, a foreign operation in
progress, throttling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import (
    Run,
    cli,
    connections,
    demo_config,
    instances,
    no_secret_leaks,  # noqa: F401 - fixture
    operations,
    state_of,
    use_virtual_clock,
)

CANARY = "400000000001"

pytestmark = pytest.mark.usefixtures("no_secret_leaks")


@pytest.fixture
def world(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_virtual_clock(sandbox_env, monkeypatch)
    return sandbox_env


def _apply(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> Run:
    return cli(capsys, "apply", "-c", str(config), "--auto-approve", *extra)


def test_demo_config_applies_in_its_waves_and_everything_ends_current_and_connected(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    run = _apply(capsys, config)

    assert run.code == 0, run.text
    lines = run.out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("wave ") and "operation(s)" in line]
    assert [lines[i].split()[1] for i in starts] == ["canary", "critical", "rest"]
    assert "wave canary: gate: 6/6 connected in Clumio" in run.out
    rows = instances(world)
    assert rows and all(r["Status"] == "CURRENT" for r in rows)
    conns = connections(world)
    for r in rows:
        assert conns[(r["Account"], r["Region"])]["connection_status"] == "connected"
    assert len(operations(world)) == 3  # one CreateStackInstances per wave
    assert state_of(config)["last_apply"]["outcome"] == "succeeded"

    again = _apply(capsys, config)
    assert again.code == 0 and "No changes" in again.out
    assert len(operations(world)) == 3


def test_failing_canary_account_stops_before_wave_two_and_next_apply_finishes_the_rest(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    world.world.apply_event("fail-account", {"account": CANARY})

    run = _apply(capsys, config)

    assert run.code == 3, run.text
    assert "stopped before wave critical" in run.out
    assert f"{CANARY} " in run.out and "service control policy" in run.out
    assert not any(line.startswith("wave critical: submitted") for line in run.out.splitlines())
    assert {r["Account"] for r in instances(world)} <= {CANARY, "400000000002"}
    done = {(r["Account"], r["Region"]) for r in instances(world) if r["Status"] == "CURRENT"}

    world.world.apply_event("heal-account", {"account": CANARY})
    before = len(operations(world))
    second = _apply(capsys, config)

    assert second.code == 0, second.text
    # the re-plan touches only what is unfinished: the failed (and cancelled) canary instances and the later waves
    assert f"~ {CANARY}" in second.out
    rows = [line.split() for line in second.out.splitlines() if line.strip()[:2] in ("+ ", "~ ")]
    assert not {(r[1], r[2]) for r in rows if len(r) > 2} & done
    assert len(operations(world)) - before == 3
    assert all(r["Status"] == "CURRENT" for r in instances(world))


def test_a_foreign_operation_in_progress_is_waited_out(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    first = cli(capsys, "apply", "-c", str(config), "--auto-approve")
    assert first.code == 0, first.text
    # The desired state grows by a region, so apply has work to do while the StackSet is busy.
    config.write_text(config.read_text().replace("  - eu-west-1\n", "  - eu-west-1\n  - eu-central-1\n", 1))
    cfn = world.client("cloudformation")
    # Someone else's operation on the StackSet: an UpdateStackInstances re-push of the canary accounts.
    foreign = cfn.update_stack_instances(
        StackSetName="clumio-org", Regions=["us-east-1"],
        DeploymentTargets={"OrganizationalUnitIds": ["ou-d3m0-canary01"],
                           "Accounts": ["400000000001", "400000000002"],
                           "AccountFilterType": "INTERSECTION"},
        OperationPreferences={"MaxConcurrentCount": 1})["OperationId"]
    assert cfn.describe_stack_set_operation(StackSetName="clumio-org", OperationId=foreign)[
        "StackSetOperation"]["Status"] in ("RUNNING", "QUEUED")

    run = _apply(capsys, config)

    assert run.code == 0, run.text
    assert f"waiting for operation {foreign}" in run.out
    statuses = {o["OperationId"]: o["Status"] for o in operations(world)}
    assert statuses[foreign] == "SUCCEEDED"
    rows = instances(world)
    assert any(r["Region"] == "eu-central-1" for r in rows) and all(r["Status"] == "CURRENT" for r in rows)


def test_twenty_percent_throttling_still_converges(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import botocore.endpoint
    import botocore.retries.bucket

    # botocore's own retry backoff and adaptive rate limiter (before apply's backoff) wait on the simulated clock
    # too — real waits would make this test take a minute.
    clock = world.world.clock
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(
        sleep=lambda s: clock.advance(s), time=botocore.endpoint.time.time))
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    config = demo_config(tmp_path)
    world.world.apply_event("set-faults", {"throttle_rate": 0.2, "seed": 7})

    run = _apply(capsys, config)

    assert run.code == 0, run.text
    world.world.apply_event("set-faults", {"throttle_rate": 0.0})  # the test's own reads have no retries
    assert all(r["Status"] == "CURRENT" for r in instances(world))
    assert len(operations(world)) == 3


def test_plan_file_is_applied_and_refused_once_stale(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    planfile = tmp_path / "plan.json"
    made = cli(capsys, "plan", "-c", str(config), "--out", str(planfile))
    assert made.code in (0, 2), made.text
    world.world.apply_event("add-account", {"name": "late", "ou": "/Workloads/Dev", "id": "320000000099"})

    stale = cli(capsys, "apply", str(planfile), "-c", str(config))
    assert stale.code == 1
    assert "error: the plan is stale" in stale.err and "live AWS/Clumio state changed" in stale.err
    assert operations_or_none(world) == []

    remade = cli(capsys, "plan", "-c", str(config), "--out", str(planfile))
    assert remade.code in (0, 2)
    applied = cli(capsys, "apply", str(planfile), "-c", str(config))
    assert applied.code == 0, applied.text


def test_without_a_terminal_and_without_auto_approve_apply_refuses(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    run = cli(capsys, "apply", "-c", str(config))
    assert run.code == 1
    assert "no terminal to ask on" in run.err and "--auto-approve" in run.err


def operations_or_none(world: Any) -> list[dict[str, Any]]:
    try:
        return operations(world)
    except Exception:  # the StackSet does not exist yet
        return []


def test_template_upgrade_rolls_out_in_waves_and_every_connection_reports_the_new_version(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path)
    assert _apply(capsys, config).code == 0
    world.world.apply_event("release-template", {"version": "24.5"})

    run = _apply(capsys, config)

    assert run.code == 0, run.text
    assert "UpdateStackSet" in run.out
    lines = run.out.splitlines()
    first_update = next(i for i, line in enumerate(lines) if "submitted UpdateStackSet" in line)
    assert lines[first_update].startswith("wave canary:")  # the canary gets the new template first
    rows = instances(world)
    assert rows and all(r["Status"] == "CURRENT" for r in rows)
    conns = connections(world)
    assert {conns[(r["Account"], r["Region"])]["config"]["installed_template_version"] for r in rows} == {"24.5"}
    assert state_of(config)["stack_sets"]["clumio-org"]["template_version"] == "24.5"
