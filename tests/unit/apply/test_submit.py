"""Submitting exactly once: OperationInProgress waited out, our own id followed, Stale/throttling backed off."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.model import Outcome
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.plan import OperationKind
from reconciler.core.ports import OperationInProgress, StaleRequest
from tests.unit.apply.helpers import PLAN_ID, World, onboarding_plan, op, plan_of

OP1 = f"clumio-org-{PLAN_ID}-001"


def _created(world: World) -> World:
    """The StackSet exists already (first plan applied), so the next plan only creates instances."""
    world.run(onboarding_plan("a" * 16))
    world.stacksets.calls.clear()
    return world


def _instances_plan(accounts=("444400000001",)):  # type: ignore[no-untyped-def]
    return plan_of([op(1, OperationKind.CREATE_STACK_INSTANCES, "canary", accounts)],
                   waves=[("canary", accounts, "0")])


def test_foreign_operation_in_progress_is_waited_out_then_ours_is_submitted(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    started = world.clock.t
    world.stacksets.start_foreign("clumio-org", "someone-elses-op", duration=1200)

    result = world.run(_instances_plan())

    assert result.outcome is Outcome.SUCCEEDED
    assert any("waiting for operation someone-elses-op" in line for line in world.lines)
    creates = world.stacksets.mutating_calls("create_instances")
    assert len(creates) == 2  # refused once while busy, accepted after; never a second operation
    assert world.clock.t - started >= 1200 + 300
    ops = world.stacksets.list_operations("clumio-org")
    assert sum(1 for v in ops if v.operation_id == OP1) == 1


def test_waiting_for_a_foreign_operation_is_bounded(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    world.stacksets.start_foreign("clumio-org", "stuck-op", duration=10 * 3600)
    with pytest.raises(ReconcilerError, match="still RUNNING"):
        world.run(_instances_plan())


def test_id_already_exists_means_the_operation_is_ours_and_is_followed(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    plan = _instances_plan()
    # A first send reached AWS but its response was lost: AWS already runs our id.
    world.stacksets.create_instances(plan.operations[0])
    world.stacksets.calls.clear()

    result = world.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.operations_followed == 1 and result.operations_submitted == 0
    assert any("following (already submitted)" in line for line in world.lines)
    assert len(world.stacksets.mutating_calls("create_instances")) == 1  # the one refused with AlreadyExists


def test_in_progress_on_our_own_id_is_followed(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    plan = _instances_plan()
    world.stacksets.create_instances(plan.operations[0])
    world.stacksets.calls.clear()
    world.stacksets.faults.append(OperationInProgress(f"Another Operation is in progress: {OP1}", OP1))

    result = world.run(plan)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.operations_followed == 1
    assert len(world.stacksets.list_operations("clumio-org")) == 3


def test_stale_request_and_throttling_are_backed_off_then_succeed(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    world.stacksets.faults += [StaleRequest("stale"),
                               ProviderError("AWS kept throttling cloudformation:CreateStackInstances: Rate exceeded"),
                               StaleRequest("stale")]
    before = list(world.clock.sleeps)
    result = world.run(_instances_plan())

    assert result.outcome is Outcome.SUCCEEDED
    backoffs = world.clock.sleeps[len(before):len(before) + 3]
    assert backoffs[0] < backoffs[2] <= 30  # grows, capped
    assert len(world.stacksets.mutating_calls("create_instances")) == 4


def test_stale_request_forever_gives_up_with_a_hint(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    world.stacksets.faults += [StaleRequest("stale") for _ in range(20)]
    with pytest.raises(ReconcilerError) as err:
        world.run(_instances_plan())
    assert "refused" in err.value.message and "nothing runs twice" in (err.value.hint or "")


def test_other_provider_errors_are_not_retried(tmp_path: Path) -> None:
    world = _created(World(tmp_path))
    world.stacksets.faults.append(ProviderError("AWS denied cloudformation:CreateStackInstances"))
    with pytest.raises(ReconcilerError, match="denied"):
        world.run(_instances_plan())
    assert len(world.stacksets.mutating_calls("create_instances")) == 1
