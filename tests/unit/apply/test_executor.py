"""The executor on in-memory ports: waves in order, one operation per step, failures named, budgets honoured."""

from __future__ import annotations

from pathlib import Path

from reconciler.apply.model import Outcome
from reconciler.core.live import OperationStatus
from reconciler.core.plan import OperationKind
from reconciler.state import JournalStatus
from tests.fakes import FAKE_EXTERNAL_ID, FAKE_TOKEN
from tests.unit.apply.helpers import CANARY, PLAN_ID, REST, STACK_SET, World, onboarding_plan, op, plan_of


def test_plan_runs_wave_by_wave_and_every_instance_ends_current_and_connected(tmp_path: Path) -> None:
    world = World(tmp_path)
    result = world.run(onboarding_plan())

    assert result.outcome is Outcome.SUCCEEDED
    assert result.outcome.exit_code == 0
    assert [w.name for w in result.waves] == ["stack-set", "canary", "rest"]
    assert [c[0] for c in world.stacksets.mutating_calls()] == [
        "create_stack_set", "create_instances", "create_instances"]
    state = world.state()
    assert {e.status for e in state.journal} == {JournalStatus.SUCCEEDED}
    assert len(state.instances) == 8
    assert all(r.status == "CURRENT" and r.connected and r.template_version == "24.4"
               for r in state.instances.values())
    assert result.waves[2].gate is not None and result.waves[2].gate.connected == 6
    assert state.last_apply is not None and state.last_apply["outcome"] == "succeeded"


def test_canary_wave_finishes_before_the_next_wave_is_submitted(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    text = "\n".join(world.lines)
    assert text.index("wave canary: gate: 2/2 connected") < text.index("wave rest: submitted CreateStackInstances")


def test_plain_progress_prints_one_line_per_event(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    assert f"wave canary: submitted CreateStackInstances clumio-org-{PLAN_ID}-001 (2 instances)" in world.lines
    assert any(line.startswith(f"wave canary: CreateStackInstances clumio-org-{PLAN_ID}-001 SUCCEEDED in 5m")
               for line in world.lines)


def test_secrets_are_sent_on_create_but_state_keeps_only_fingerprints(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    text = (tmp_path / "state.json").read_text()
    assert FAKE_TOKEN not in text and FAKE_EXTERNAL_ID not in text
    record = world.state().stack_sets[STACK_SET]
    assert set(record.secret_fingerprints) == {"ClumioToken", "RoleExternalId"}
    assert all(v.startswith("sha256:") for v in record.secret_fingerprints.values())
    assert FAKE_TOKEN not in "\n".join(world.lines)


def test_failed_canary_account_stops_the_run_before_the_next_wave(tmp_path: Path) -> None:
    world = World(tmp_path, failing=CANARY)
    result = world.run(onboarding_plan())

    assert result.outcome is Outcome.FAILED and result.outcome.exit_code == 3
    assert result.stopped_before == "rest"
    assert {f.account for f in result.failures} == set(CANARY)
    assert all("fake failure" in f.reason for f in result.failures)
    assert world.stacksets.mutating_calls("create_instances") == [("create_instances", f"clumio-org-{PLAN_ID}-001")]
    state = world.state()
    statuses = {e.operation_id: e.status for e in state.journal}
    assert statuses[f"clumio-org-{PLAN_ID}-001"] is JournalStatus.FAILED
    assert statuses[f"clumio-org-{PLAN_ID}-002"] is JournalStatus.SKIPPED
    assert {(f.account, f.region) for f in state.journal[1].failures} == {(CANARY[0], "us-east-1"),
                                                                          (CANARY[0], "us-west-2")}
    assert "222200000001" in (result.stop_reason or "")


def test_failures_within_the_wave_budget_let_the_run_continue_but_exit_3(tmp_path: Path) -> None:
    world = World(tmp_path, failing=("333300000001",))
    plan = onboarding_plan(tolerance=2)
    plan = plan_of(plan.operations, waves=[("canary", CANARY, "0"), ("rest", REST, "1")])
    result = world.run(plan)

    assert result.stopped_before is None
    assert result.outcome is Outcome.FAILED and result.outcome.exit_code == 3
    assert {f.account for f in result.failures} == {"333300000001"}
    assert world.state().instances  # the rest of the wave was recorded
    ok = [k for k, r in world.state().instances.items() if r.status == "CURRENT"]
    assert len(ok) == 6


def test_account_that_never_connects_in_clumio_fails_the_gate(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.clumio.never_connect.add(CANARY[0])
    result = world.run(onboarding_plan(), verify_seconds=120)

    assert result.outcome is Outcome.FAILED
    assert result.stopped_before == "rest"
    gate = result.waves[1].gate
    assert gate is not None and gate.connected == 0 and gate.expected == 2
    assert all("connecting" in f.reason for f in result.failures)
    assert world.clock.t < 300 + 300 + 200  # the gate gave up after its bound, not the default 15 minutes


def test_gate_reads_connections_in_batches_not_one_call_per_account(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    assert world.clumio.list_calls <= 4


def test_nothing_to_do_makes_no_call(tmp_path: Path) -> None:
    world = World(tmp_path)
    result = world.run(plan_of([]))
    assert result.outcome is Outcome.NOTHING_TO_DO and result.outcome.exit_code == 0
    assert world.stacksets.calls == []


def test_update_stack_set_sends_previous_secret_values_unless_rotating(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    sent: list[tuple] = []
    original = world.stacksets.update_stack_set

    def spy(definition, body, parameters, operation):  # type: ignore[no-untyped-def]
        sent.append(tuple(parameters))
        return original(definition, body, parameters, operation)

    world.stacksets.update_stack_set = spy  # type: ignore[method-assign]
    update = plan_of([op(0, OperationKind.UPDATE_STACK_SET, None, CANARY + REST, plan_id="1" * 16)],
                     plan_id="1" * 16, changes=_update_change())
    assert world.run(update).outcome is Outcome.SUCCEEDED
    secrets = {p.key: p for p in sent[0] if p.key in ("ClumioToken", "RoleExternalId")}
    assert all(p.use_previous and p.value is None for p in secrets.values())

    rotate = plan_of([op(0, OperationKind.UPDATE_STACK_SET, None, CANARY + REST, plan_id="2" * 16)],
                     plan_id="2" * 16, changes=_update_change())
    assert world.run(rotate, rotate=True).outcome is Outcome.SUCCEEDED
    secrets = {p.key: p for p in sent[1] if p.key in ("ClumioToken", "RoleExternalId")}
    assert secrets["ClumioToken"].value is not None and secrets["ClumioToken"].value.reveal() == FAKE_TOKEN
    assert not secrets["ClumioToken"].use_previous


def test_update_rotates_when_clumio_hands_out_new_values(tmp_path: Path) -> None:
    from reconciler.core.ports import DeploymentParameters
    from reconciler.core.secrets import Secret

    world = World(tmp_path)
    world.run(onboarding_plan())
    world.clumio.org_deployment_parameters = lambda org_id: DeploymentParameters(  # type: ignore[method-assign]
        Secret("new-token-value"), Secret(FAKE_EXTERNAL_ID))
    sent: list[tuple] = []
    original = world.stacksets.update_stack_set
    world.stacksets.update_stack_set = lambda d, b, p, o: (sent.append(tuple(p)), original(d, b, p, o))[1]  # type: ignore
    update = plan_of([op(0, OperationKind.UPDATE_STACK_SET, None, CANARY, plan_id="3" * 16)],
                     plan_id="3" * 16, changes=_update_change())
    world.run(update)
    token = next(p for p in sent[0] if p.key == "ClumioToken")
    assert not token.use_previous
    assert world.state().stack_sets[STACK_SET].secret_fingerprints["ClumioToken"] == \
        Secret("new-token-value").fingerprint()


def test_clumio_template_change_since_plan_is_refused_before_anything_runs(tmp_path: Path) -> None:
    import pytest

    from reconciler.core.errors import ReconcilerError
    from tests.fakes import make_template

    world = World(tmp_path)
    world.clumio.template = make_template("24.5")
    with pytest.raises(ReconcilerError, match="Clumio's template changed since the plan was made; re-run plan"):
        world.run(onboarding_plan())
    assert world.stacksets.calls == []


def test_operation_that_failed_as_a_whole_names_its_reason(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run(onboarding_plan())
    original = world.stacksets._finish

    def fail_all(ss, operation, action, keys, create=True):  # type: ignore[no-untyped-def]
        op_id = original(ss, operation, action, keys, create)
        stack_set, final, end = world.stacksets.pending[op_id]
        world.stacksets.pending[op_id] = (stack_set, final.__class__(
            final.operation_id, final.stack_set, final.action, OperationStatus.FAILED, "Internal failure"), end)
        return op_id

    world.stacksets._finish = fail_all  # type: ignore[method-assign]
    plan = plan_of([op(0, OperationKind.UPDATE_STACK_INSTANCES, "canary", CANARY, plan_id="4" * 16)],
                   plan_id="4" * 16, waves=[("canary", CANARY, "5")])
    result = world.run(plan)
    assert result.outcome is Outcome.FAILED
    assert any("Internal failure" in f.reason for f in result.failures)


def _update_change():  # type: ignore[no-untyped-def]
    from reconciler.core.plan import Action, StackSetChange
    from tests.unit.apply.helpers import definition

    return [StackSetChange(STACK_SET, Action.CHANGE, definition())]


def test_operations_on_different_stack_sets_in_one_wave_run_side_by_side(tmp_path: Path) -> None:
    from reconciler.core.live import PermissionModel
    from reconciler.core.plan import Action, StackSetChange
    from tests.unit.apply.helpers import definition

    world = World(tmp_path)
    mgmt = "clumio-org-management"
    ops = [
        op(0, OperationKind.CREATE_STACK_SET, None),
        op(1, OperationKind.CREATE_STACK_SET, None, stack_set=mgmt),
        op(2, OperationKind.CREATE_STACK_INSTANCES, "rest", REST),
        op(3, OperationKind.CREATE_STACK_INSTANCES, "rest", ("111111111111",), stack_set=mgmt),
    ]
    changes = [StackSetChange(STACK_SET, Action.ADD, definition()),
               StackSetChange(mgmt, Action.ADD, definition(mgmt, permission_model=PermissionModel.SELF_MANAGED))]
    result = world.run(plan_of(ops, waves=[("rest", REST, "0")], changes=changes))

    assert result.outcome is Outcome.SUCCEEDED
    assert world.management.mutating_calls("create_instances") == [("create_instances", ops[3].operation_id)]
    assert world.stacksets.mutating_calls("create_instances") == [("create_instances", ops[2].operation_id)]
    rest = result.waves[-1]
    assert rest.operations == 2 and rest.seconds < 2 * 300  # not one after the other


def test_gate_waits_only_for_what_the_plan_changes(tmp_path: Path) -> None:
    from dataclasses import replace

    world = World(tmp_path)
    world.run(onboarding_plan())
    left_alone = REST[0]  # say its account was suspended: AWS skips it, the plan has no row for it
    world.clumio.never_connect.add(left_alone)
    update = plan_of([op(0, OperationKind.UPDATE_STACK_SET, None, CANARY + REST, plan_id="5" * 16)],
                     plan_id="5" * 16, changes=_update_change())
    update = replace(update, changes=tuple(c for c in update.changes if c.key.account != left_alone))

    result = world.run(update, verify_seconds=300)

    assert result.outcome is Outcome.SUCCEEDED
    gate = result.waves[0].gate
    assert gate is not None and gate.expected == 6 and gate.connected == 6
