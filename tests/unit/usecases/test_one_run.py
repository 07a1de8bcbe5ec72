"""One run, one read of each external fact: `plan` and `apply` share one plan builder (reconciler.usecases.plan),
the Clumio template is fetched once per apply and the org-deployment-parameters PUT made at most once, and plan and
apply show the same plan of the same org — also after Clumio hands out new credentials."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.ports import DeploymentParameters
from reconciler.core.secrets import Secret
from reconciler.core.settings import Settings
from reconciler.render.text import render_plan
from reconciler.state import LocalBackend
from reconciler.usecases.apply import ApplyRequest, run_apply
from reconciler.usecases.context import Context
from reconciler.usecases.plan import plan_command
from tests.fakes import FakePorts, fake_ports, make_desired, wave
from tests.unit.apply.helpers import FakeClock
from tests.unit.apply.test_run import FakeUI, _connect_everything


def _world(tmp_path: Path):  # type: ignore[no-untyped-def]
    desired = make_desired(organization=True, waves=[wave("first", accounts=["222200000001"]),
                                                      wave("rest", rest=True, max_concurrent="50%")],
                           source=str(tmp_path / "clumio-org.yaml"))
    ports = fake_ports()
    _connect_everything(ports)
    return desired, ports, LocalBackend(tmp_path / "state.json")


def _ctx(desired, ports, backend) -> Context:  # type: ignore[no-untyped-def]
    return Context(desired, clock=FakeClock(), given_ports=ports, given_backend=backend,
                   given_settings=Settings(poll_seconds=1, poll_max_seconds=2), note=lambda _text: None)


def _apply(desired, ports: FakePorts, backend) -> FakeUI:  # type: ignore[no-untyped-def]
    ui = FakeUI(interactive=False)
    code = run_apply(ApplyRequest(desired, auto_approve=True), ui, _ctx(desired, ports, backend))
    assert code == 0, "\n".join(ui.lines)
    return ui


def _reads(ports: FakePorts) -> tuple[int, int]:
    calls = ports.clumio.calls
    counts = calls.count("org_template"), calls.count("org_deployment_parameters")
    calls.clear()
    return counts


def test_an_apply_fetches_the_template_once_and_the_deployment_parameters_at_most_once(tmp_path: Path) -> None:
    desired, ports, backend = _world(tmp_path)
    _apply(desired, ports, backend)  # creates the StackSet: the plan and the executor both need the template
    assert _reads(ports) == (1, 1)
    ports.clumio.calls.clear()
    _apply(desired, ports, backend)  # nothing to do: the plan compares the secrets' fingerprints, once
    assert _reads(ports) == (1, 1)


def test_plan_and_apply_show_the_same_plan_after_clumio_hands_out_new_credentials(tmp_path: Path) -> None:
    desired, ports, backend = _world(tmp_path)
    _apply(desired, ports, backend)
    rotated = DeploymentParameters(Secret("new-token-0000"), Secret("new-external-id-0000"))
    ports.clumio.org_deployment_parameters = lambda org_id: rotated  # type: ignore[method-assign]

    planned = render_plan(plan_command(_ctx(desired, ports, backend)), color=False)
    assert "parameters.ClumioToken" in planned  # plan shows what apply is about to send
    ui = FakeUI(interactive=True, answer=False)  # shown, then declined: nothing is changed
    assert run_apply(ApplyRequest(desired), ui, _ctx(desired, ports, backend)) == 1
    assert planned in ui.lines


def test_the_collector_is_paused_only_while_a_plan_is_gathered() -> None:
    """Apply's long run after its plan (and the next command in the same process) gets the collector back."""
    import gc

    import pytest

    from reconciler.usecases.context import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("discovery failed")
    assert gc.isenabled()  # an error on the way never leaves it off
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
