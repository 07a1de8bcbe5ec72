"""`clumio-org destroy` on the demo org after a full apply (docs/reference/brownfield.md §5): a plan first, refused
without --allow-destroy, waves in reverse order, then the StackSet and the connections; killed half way, a re-run
finishes with no operation submitted twice."""

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
    sleeping_with,
    state_of,
    use_virtual_clock,
)

STACK_SET = "clumio-org"
MANAGEMENT_SET = "clumio-org-management"
MANAGEMENT = "100000000001"


class Killed(BaseException):
    """Stands for SIGKILL: nothing in clumio-org catches it, so the run just stops where it is."""


@pytest.fixture
def applied(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
            capsys: pytest.CaptureFixture[str]) -> tuple[Any, Path]:
    use_virtual_clock(sandbox_env, monkeypatch)
    config = demo_config(tmp_path)
    run = cli(capsys, "apply", "-c", str(config), "--auto-approve")
    assert run.code == 0, run.text
    return sandbox_env, config


def destroy(capsys: pytest.CaptureFixture[str], config: Path, *flags: str) -> Run:
    return cli(capsys, "destroy", "-c", str(config), *flags)


def delete_operations(sandbox: Any) -> list[Any]:
    return [op for op in sandbox.world.stack_set(STACK_SET).operations.values() if op.action == "DELETE"]


def assert_nothing_left(sandbox: Any) -> None:
    cf = sandbox.client("cloudformation")
    assert [s["StackSetName"] for s in cf.list_stack_sets(Status="ACTIVE")["Summaries"]] == []
    assert sandbox.world.stack_set(STACK_SET).status == "DELETED"
    assert not sandbox.world.stack_set(STACK_SET).instances
    assert connections(sandbox) == {}


def test_destroy_shows_the_plan_and_refuses_without_allow_destroy(applied: tuple[Any, Path],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, config = applied
    run = destroy(capsys, config, "--auto-approve")
    assert run.code == 1
    assert "error: destroy removes 72 stack instance(s), 1 StackSet(s) and 72 Clumio connection(s); refusing " \
           "without --allow-destroy" in run.err
    lines = [line for line in run.out.splitlines() if "DeleteStackInstances" in line]
    assert [line.split("wave destroy ")[1].split(";")[0] for line in lines] == ["rest", "critical", "canary"]
    assert "DeleteStackSet clumio-org" in run.out
    assert delete_operations(sandbox) == [] and len(connections(sandbox)) == 72


def test_destroy_without_a_terminal_needs_auto_approve(applied: tuple[Any, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, config = applied
    run = destroy(capsys, config, "--allow-destroy")
    assert run.code == 1 and "error: destroy needs a typed confirmation" in run.err
    assert delete_operations(sandbox) == []


def test_destroy_removes_every_instance_the_stack_set_and_its_connections(
        applied: tuple[Any, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, config = applied
    run = destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert run.code == 0, run.text
    assert "Destroy complete: 72 stack instance(s), 1 StackSet(s) and 72 Clumio connection(s) removed." in run.out
    assert_nothing_left(sandbox)
    again = destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert again.code == 0 and "Nothing to destroy" in again.out


def test_destroy_killed_half_way_is_finished_by_a_rerun_without_a_second_operation(
        applied: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, config = applied
    clock = sandbox.world.clock
    sleeps = {"n": 0}

    def sleep_then_die(seconds: float) -> None:
        clock.advance(seconds)
        if delete_operations(sandbox):  # the first DeleteStackInstances is running: kill the run under it
            sleeps["n"] += 1
            if sleeps["n"] == 3:
                raise Killed()

    sleeping_with(monkeypatch, clock, sleep_then_die)
    with pytest.raises(Killed):
        destroy(capsys, config, "--allow-destroy", "--auto-approve")
    first = delete_operations(sandbox)
    assert len(first) == 1 and first[0].status(sandbox.world.now_ts()) == "RUNNING"  # killed under it
    use_virtual_clock(sandbox, monkeypatch)

    run = destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert run.code == 0, run.text
    assert f"journal: following {first[0].id}" in run.out
    ops = delete_operations(sandbox)
    assert {op.status(sandbox.world.now_ts()) for op in ops} == {"SUCCEEDED"}
    # The re-run planned only what was left: every instance was deleted by exactly one operation.
    reached = [(step.account, step.region) for op in ops for step in op.steps]
    assert len(reached) == len(set(reached)) == 72
    assert_nothing_left(sandbox)


def strip_stack_fields(sandbox: Any) -> None:
    """Connections that name no stack (stack_arn / stack_name null, clumio-api.md §3.3): the destroy cannot tell
    from them which StackSet made them."""
    for connection in sandbox.world.clumio.connections.values():
        connection.stack_arn = None
    assert all(c["stack_arn"] is None and c["stack_name"] is None for c in connections(sandbox).values())


@pytest.mark.parametrize("stack_fields", ["listed", "missing"])
def test_destroy_killed_after_its_first_wave_is_finished_by_a_rerun_without_a_duplicate_operation(
        applied: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        stack_fields: str) -> None:
    sandbox, config = applied
    if stack_fields == "missing":
        strip_stack_fields(sandbox)
    clock = sandbox.world.clock

    def die_once_the_second_wave_runs(seconds: float) -> None:
        clock.advance(seconds)
        if len(delete_operations(sandbox)) == 2:
            raise Killed()

    sleeping_with(monkeypatch, clock, die_once_the_second_wave_runs)
    with pytest.raises(Killed):
        destroy(capsys, config, "--allow-destroy", "--auto-approve")
    first, second = sorted(delete_operations(sandbox), key=lambda op: op.id)
    now = sandbox.world.now_ts()
    assert first.status(now) == "SUCCEEDED" and len(first.steps) == 45  # the first wave ("rest") is gone
    assert len(connections(sandbox)) == 72  # its 45 connections are still there: they go last
    use_virtual_clock(sandbox, monkeypatch)

    run = destroy(capsys, config, "--allow-destroy", "--auto-approve")

    assert run.code == 0, run.text
    assert f"journal: following {second.id}" in run.out
    ops = delete_operations(sandbox)
    assert len(ops) == 3  # one DeleteStackInstances per wave, none submitted twice
    reached = [(step.account, step.region) for op in ops for step in op.steps]
    assert len(reached) == len(set(reached)) == 72
    # The re-run followed the second wave to its end, then deleted the last one (6 instances); the connections of
    # the waves deleted before and during the kill are removed too, stack fields or not.
    assert "Destroy complete: 6 stack instance(s), 1 StackSet(s) and 72 Clumio connection(s) removed." in run.out
    assert_nothing_left(sandbox)
    assert "offboarding" not in state_of(config)
    again = destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert again.code == 0 and "Nothing to destroy" in again.out


def test_destroy_killed_among_its_connection_deletes_finishes_them_when_they_name_no_stack(
        applied: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.providers.clumio.client import ClumioClient

    sandbox, config = applied
    strip_stack_fields(sandbox)
    delete = ClumioClient.delete_connection
    done = {"n": 0}

    def die_after_ten(client: ClumioClient, connection_id: str) -> None:
        if done["n"] == 10:
            raise Killed()
        delete(client, connection_id)
        done["n"] += 1

    monkeypatch.setattr(ClumioClient, "delete_connection", die_after_ten)
    with pytest.raises(Killed):
        destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert sandbox.world.stack_set(STACK_SET).status == "DELETED" and len(connections(sandbox)) == 62
    assert len(state_of(config)["offboarding"]) == 72  # what the killed destroy was removing
    monkeypatch.setattr(ClumioClient, "delete_connection", delete)

    run = destroy(capsys, config, "--allow-destroy", "--auto-approve")

    assert run.code == 0, run.text
    assert "Destroy complete: 0 stack instance(s), 0 StackSet(s) and 62 Clumio connection(s) removed." in run.out
    assert len(delete_operations(sandbox)) == 3  # no stack instance operation submitted again
    assert_nothing_left(sandbox)
    assert "offboarding" not in state_of(config)


def test_destroy_with_the_management_account_onboarded_removes_its_stack_set_and_connections_too(
        sandbox_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_virtual_clock(sandbox_env, monkeypatch)
    config = demo_config(tmp_path)
    config.write_text(config.read_text() + "\nmanagement_account:\n  onboard: true\n")
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    assert {r["Account"] for r in instances(sandbox_env, MANAGEMENT_SET)} == {MANAGEMENT}
    assert len(connections(sandbox_env)) == 75  # 72 member (account, region)s and the management account's 3

    run = destroy(capsys, config, "--allow-destroy", "--auto-approve")

    assert run.code == 0, run.text
    # The management account's StackSet goes last (its instances after every wave, the StackSet after the service
    # StackSet), as the off-boarding document orders it.
    planned = [line for line in run.out.splitlines() if line[:5].strip().isdigit() and "DeleteStackInstances" in line]
    assert [line.split()[2] for line in planned] == [STACK_SET] * 3 + [MANAGEMENT_SET]
    assert "wave destroy management account;" in planned[-1]
    assert run.out.index("DeleteStackSet clumio-org\n") < run.out.index(f"DeleteStackSet {MANAGEMENT_SET}")
    assert "Destroy complete: 75 stack instance(s), 2 StackSet(s) and 75 Clumio connection(s) removed." in run.out
    assert_nothing_left(sandbox_env)
    assert sandbox_env.world.stack_set(MANAGEMENT_SET).status == "DELETED"
    assert not sandbox_env.world.stack_set(MANAGEMENT_SET).instances
    assert [op.action for op in sandbox_env.world.stack_set(MANAGEMENT_SET).operations.values()] == ["CREATE", "DELETE"]
    again = destroy(capsys, config, "--allow-destroy", "--auto-approve")
    assert again.code == 0 and "Nothing to destroy" in again.out


def test_import_takes_over_a_stack_set_another_state_deployed_with_its_lineage(
        applied: tuple[Any, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sandbox, config = applied
    state_file = config.parent / ".clumio-org" / "state.json"
    state_file.unlink()  # the state is lost (or lives in another backend): the StackSet still carries its lineage
    refused = cli(capsys, "plan", "-c", str(config))
    assert refused.code == 1 and "no state" in refused.err
    run = cli(capsys, "import", "--stack-set", STACK_SET, "-c", str(config))
    assert run.code == 0, run.text
    assert "adopting StackSet clumio-org" in run.out and "No changes." in run.out
    assert cli(capsys, "plan", "-c", str(config), "--detailed-exitcode").code == 0
    assert cli(capsys, "drift", "-c", str(config)).code == 0
