"""The off-boarding plan (docs/reference/brownfield.md §5): waves in reverse order, RetainStacks where the stack
cannot or should not go, then the StackSets and the connections left behind."""

from __future__ import annotations

from reconciler.core.plan import OperationKind
from reconciler.plan.destroy import make_destroy_plan
from reconciler.plan.expand import expand
from tests.worlds import (
    REGIONS,
    connection,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
    wave,
)

T = make_template("24.4")


def deployed(desired, extra=()):
    org = demo_org()
    keys = list(expand(desired, org).targets)
    insts = [instance(k.stack_set, k.account, k.region) for k in keys]
    insts += [instance("clumio-org", a, r, detailed=None) for a, r in extra]
    conns = [connection(k.account, k.region) for k in keys]
    return make_live(org, stack_sets=[live_stack_set(desired, T)], instances=insts, connections=conns)


def test_waves_are_destroyed_last_first_then_the_stack_set_and_the_connections() -> None:
    desired = make_desired(ous=["/Security", "/Workloads"], waves=[wave("canary", ous=["/Security"]),
                                                                   wave("rest", rest=True)])
    d = make_destroy_plan(desired, deployed(desired))
    assert [op.wave for op in d.plan.operations] == ["destroy rest", "destroy canary"]
    assert {op.kind for op in d.plan.operations} == {OperationKind.DELETE_STACK_INSTANCES}
    assert all(op.retain_stacks is False for op in d.plan.operations)
    assert d.stack_sets == ("clumio-org",)
    assert len(d.connections) == len(d.plan.changes) == 2 * 6  # 6 active accounts (the suspended one is skipped)
    again = make_destroy_plan(desired, deployed(desired))
    assert [op.operation_id for op in again.plan.operations] == [op.operation_id for op in d.plan.operations]


def test_retain_stacks_keeps_stacks_and_their_connections() -> None:
    desired = make_desired(ous=["/Security"])
    suspended = ("444400000002", REGIONS[0])  # a suspended account's instance: its stack cannot be deleted
    d = make_destroy_plan(desired, deployed(desired, extra=[suspended]))
    retained = [op for op in d.plan.operations if op.retain_stacks]
    assert [k.account for op in retained for k in op.instances] == ["444400000002"]
    kept = make_destroy_plan(desired, deployed(desired), retain_stacks=True)
    assert all(op.retain_stacks for op in kept.plan.operations) and kept.connections == ()


def test_connections_a_killed_destroy_was_removing_are_deleted_though_they_name_no_stack() -> None:
    desired = make_desired(ous=["/Security"])
    full = make_destroy_plan(desired, deployed(desired))
    assert len(full.removes) == len(full.connections) == 4  # remembered in state before the first deletion
    gone = make_live(demo_org(), connections=[connection(a, r) for a, r in full.removes])  # instances deleted
    assert make_destroy_plan(desired, gone).empty  # from the connections alone, nothing says they were ours
    again = make_destroy_plan(desired, gone, remembered=frozenset(full.removes))
    assert again.connections == full.connections and not again.plan.operations
