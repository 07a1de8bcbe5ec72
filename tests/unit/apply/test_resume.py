"""A killed apply, re-run, finds its own operations and continues: never a second operation for one step.
Ctrl-C stops submitting, offers StopStackSetOperation, and records where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.model import Outcome
from reconciler.state import JournalStatus
from tests.unit.apply.helpers import PLAN_ID, World, onboarding_plan

OP1 = f"clumio-org-{PLAN_ID}-001"
OP2 = f"clumio-org-{PLAN_ID}-002"


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs (no except/finally of ours catches BaseException)."""


def _crash_on_sleep(world: World, n: int):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def sleep(seconds: float) -> None:
        calls["n"] += 1
        if calls["n"] == n:
            raise Killed()
        world.clock.sleep(seconds)

    return sleep


def _ids(world: World) -> list[str]:
    return [v.operation_id for v in world.stacksets.list_operations("clumio-org")]


def test_apply_killed_while_waiting_is_resumed_by_following_the_same_operation(tmp_path: Path) -> None:
    world = World(tmp_path)
    plan = onboarding_plan()
    with pytest.raises(Killed):
        world.run(plan, sleep=_crash_on_sleep(world, 1))
    assert world.state().journal_entry(OP1).status is JournalStatus.RUNNING  # type: ignore[union-attr]

    result = world.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.operations_followed == 1
    assert any("resumed: following" in line and OP1 in line for line in world.lines)
    assert sorted(_ids(world)) == [OP1, OP2]
    assert len(world.stacksets.mutating_calls("create_stack_set")) == 1


def test_apply_killed_after_journaling_but_before_aws_got_the_call_submits_it_once(tmp_path: Path) -> None:
    plan = onboarding_plan()
    fresh = World(tmp_path)
    journal = Journal(fresh.backend, None)
    journal.begin(plan)
    journal.submitted(plan.plan_id, plan.operations[0])
    journal.running(plan.operations[0].operation_id)
    fresh.stacksets.create_stack_set(plan.stack_set_changes[0].definition, "body", ())
    journal.finished(plan.operations[0].operation_id, JournalStatus.SUCCEEDED)
    journal.submitted(plan.plan_id, plan.operations[1])  # SUBMITTED, then killed before the call

    result = fresh.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert sorted(_ids(fresh)) == [OP1, OP2]
    assert [c for c in fresh.stacksets.mutating_calls("create_instances") if c[1] == OP1] == [
        ("create_instances", OP1)]


def test_apply_killed_between_waves_continues_with_the_next_wave_only(tmp_path: Path) -> None:
    world = World(tmp_path)
    plan = onboarding_plan()
    original = world.clumio.list_connections

    def crash_at_gate(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Killed()

    world.clumio.list_connections = crash_at_gate  # type: ignore[method-assign]
    with pytest.raises(Killed):
        world.run(plan)
    world.clumio.list_connections = original  # type: ignore[method-assign]
    assert world.state().journal_entry(OP1).status is JournalStatus.SUCCEEDED  # type: ignore[union-attr]
    world.stacksets.calls.clear()

    result = world.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert world.stacksets.mutating_calls("create_instances") == [("create_instances", OP2)]
    assert any("already done (journal)" in line and OP1 in line for line in world.lines)
    assert all(r.status == "CURRENT" for r in world.state().instances.values())


def test_operation_left_running_by_an_earlier_plan_is_waited_for_before_the_new_plan(tmp_path: Path) -> None:
    world = World(tmp_path)
    old = onboarding_plan("b" * 16)
    with pytest.raises(Killed):
        world.run(old, sleep=_crash_on_sleep(world, 1))
    old_op = f"clumio-org-{'b' * 16}-001"

    new = onboarding_plan()  # (as if re-planned) – its own ids
    result = world.run(new)

    assert any(f"following {old_op}" in line for line in world.lines)
    assert world.state().journal_entry(old_op).status is JournalStatus.SUCCEEDED  # type: ignore[union-attr]
    assert result.outcome is Outcome.SUCCEEDED


def test_ctrl_c_stops_submitting_stops_the_running_operation_and_records_where(tmp_path: Path) -> None:
    world = World(tmp_path)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    asked: list[str] = []
    result = world.run(onboarding_plan(), sleep=interrupt, confirm_stop=lambda op_id: asked.append(op_id) or True)

    assert result.outcome is Outcome.INTERRUPTED and result.outcome.exit_code == 130
    assert asked == [OP1]
    assert world.stacksets.stopped == [OP1]
    state = world.state()
    assert state.journal_entry(OP1).status is JournalStatus.STOPPED  # type: ignore[union-attr]
    assert state.journal_entry(OP2).status is JournalStatus.SKIPPED  # type: ignore[union-attr]
    assert state.last_apply is not None and state.last_apply["outcome"] == "interrupted"
    assert "StopStackSetOperation sent" in (result.stop_reason or "")
    assert world.stacksets.mutating_calls("create_instances") == [("create_instances", OP1)]


def test_ctrl_c_declined_leaves_the_operation_running_for_the_next_apply(tmp_path: Path) -> None:
    world = World(tmp_path)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    result = world.run(onboarding_plan(), sleep=interrupt, confirm_stop=lambda op_id: False)

    assert result.outcome is Outcome.INTERRUPTED
    assert world.stacksets.stopped == []
    assert world.state().journal_entry(OP1).status is JournalStatus.RUNNING  # type: ignore[union-attr]
    assert "left running" in (result.stop_reason or "")


def test_apply_killed_right_after_create_stack_set_does_not_create_it_twice(tmp_path: Path) -> None:
    world = World(tmp_path)
    plan = onboarding_plan()
    journal = Journal(world.backend, None)
    journal.begin(plan)
    journal.submitted(plan.plan_id, plan.operations[0])
    world.stacksets.create_stack_set(plan.stack_set_changes[0].definition, "body", ())
    world.stacksets.calls.clear()

    result = world.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert world.stacksets.mutating_calls("create_stack_set") == []
    assert set(world.state().stack_sets["clumio-org"].secret_fingerprints) == {"ClumioToken", "RoleExternalId"}


def test_stack_set_created_by_someone_else_since_the_plan_is_refused(tmp_path: Path) -> None:
    from reconciler.core.errors import ProviderError, ReconcilerError

    world = World(tmp_path)

    def taken(*args: object) -> None:
        raise ProviderError("cloudformation:CreateStackSet on clumio-org failed: NameAlreadyExistsException: x")

    world.stacksets.create_stack_set = taken  # type: ignore[method-assign,assignment]
    with pytest.raises(ReconcilerError, match="created by someone else"):
        world.run(onboarding_plan())
