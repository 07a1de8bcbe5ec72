"""Refusals before anything runs: stale plan files (saying what moved), removals without --allow-destroy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.apply.guards import check_destroy, check_fresh
from reconciler.core.errors import PlanStaleError, ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.plan import Action, Change
from reconciler.state import State
from tests.fakes import make_desired
from tests.unit.apply.helpers import onboarding_plan


def _state(serial: int) -> State:
    return replace(State.new(), serial=serial)


def test_unchanged_plan_passes() -> None:
    plan = replace(onboarding_plan(), state_serial=4)
    state = replace(_state(4), lineage="L")
    plan = replace(plan, state_lineage="L")
    assert check_fresh(plan, make_desired(digest=plan.desired_digest), state, plan, resuming=False) == []


def test_each_thing_that_moved_is_named() -> None:
    plan = replace(onboarding_plan(), state_serial=4)
    moved_live = replace(plan, live_fingerprint="sha256:" + "e" * 64)
    with pytest.raises(PlanStaleError) as err:
        check_fresh(plan, make_desired(digest="x" * 64), _state(7), moved_live, resuming=False)
    message = err.value.message
    assert "desired-state file" in message and "state serial moved (4 → 7)" in message
    assert "live AWS/Clumio state changed" in message
    assert "clumio-org plan" in (err.value.hint or "")


def test_resuming_the_interrupted_plan_tolerates_its_own_moves_but_not_a_new_config() -> None:
    plan = replace(onboarding_plan(), state_serial=4)
    moved_live = replace(plan, live_fingerprint="sha256:" + "e" * 64)
    notes = check_fresh(plan, make_desired(digest=plan.desired_digest), _state(9), moved_live, resuming=True)
    assert any("serial" in n for n in notes) and any("live" in n for n in notes)
    with pytest.raises(PlanStaleError, match="desired-state file"):
        check_fresh(plan, make_desired(digest="x" * 64), _state(9), moved_live, resuming=True)


def _with_removals(n: int):  # type: ignore[no-untyped-def]
    removals = tuple(Change(InstanceKey("clumio-org", f"77770000{i:04d}", "us-east-1"), Action.REMOVE,
                            "account left the targets") for i in range(n))
    return replace(onboarding_plan(), changes=removals)


def test_removals_are_refused_without_allow_destroy_naming_the_rows() -> None:
    with pytest.raises(ReconcilerError) as err:
        check_destroy(_with_removals(2), allow_destroy=False, max_destroy=None)
    assert "777700000000 us-east-1" in err.value.message and "777700000001" in err.value.message
    assert "--allow-destroy" in (err.value.hint or "")


def test_max_destroy_caps_removals() -> None:
    with pytest.raises(ReconcilerError, match="more than --max-destroy 2"):
        check_destroy(_with_removals(3), allow_destroy=True, max_destroy=2)
    check_destroy(_with_removals(2), allow_destroy=True, max_destroy=2)
    check_destroy(onboarding_plan(), allow_destroy=False, max_destroy=0)  # no removals: nothing to refuse
