"""One `apply` run end to end on in-memory ports: approval, plan files, resume notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.apply.progress import PlainProgress
from reconciler.core.errors import PlanStaleError, ReconcilerError
from reconciler.core.settings import Settings
from reconciler.state import LocalBackend, State
from reconciler.usecases.apply import ApplyRequest, run_apply
from reconciler.usecases.context import Context
from tests.fakes import fake_ports, make_desired, wave
from tests.unit.apply.helpers import FakeClock


@dataclass
class FakeUI:
    interactive: bool = True
    answer: bool = True
    color: bool = False
    lines: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.progress = PlainProgress(self.lines.append)

    def echo(self, text: str) -> None:
        self.lines.append(text)

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer

    def confirm_stop(self, operation_id: str) -> bool:
        return True


def _setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    desired = make_desired(organization=True, waves=[wave("first", accounts=["222200000001"]),
                                                      wave("rest", rest=True, max_concurrent="50%")],
                           source=str(tmp_path / "clumio-org.yaml"))
    return desired, fake_ports(), LocalBackend(tmp_path / "state.json")


def _ctx(desired, ports, backend) -> Context:  # type: ignore[no-untyped-def]
    """The run's context on a fake clock, polling every 1-2 s."""
    return Context(desired, clock=FakeClock(), given_ports=ports, given_backend=backend,
                   given_settings=Settings(poll_seconds=1, poll_max_seconds=2))


def _connect_everything(ports) -> None:  # type: ignore[no-untyped-def]
    """Clumio shows a connection for every instance the fake StackSets hold (as the sandbox does after deploy)."""
    original = ports.clumio.list_connections

    def listing(accounts=None, regions=None):  # type: ignore[no-untyped-def]
        for ss in ports.stacksets.sets.values():
            ports.clumio.connect(i.key for i in ss.instances.values())
        return original(accounts, regions)

    ports.clumio.list_connections = listing


def test_without_a_terminal_and_without_auto_approve_nothing_runs(tmp_path: Path) -> None:
    desired, ports, backend = _setup(tmp_path)
    with pytest.raises(ReconcilerError, match="no terminal to ask on"):
        run_apply(ApplyRequest(desired), FakeUI(interactive=False), _ctx(desired, ports, backend))
    assert ports.stacksets.calls == []


def test_on_a_terminal_the_plan_is_shown_and_a_no_changes_nothing(tmp_path: Path) -> None:
    desired, ports, backend = _setup(tmp_path)
    ui = FakeUI(answer=False)
    code = run_apply(ApplyRequest(desired), ui, _ctx(desired, ports, backend))
    assert code == 1
    assert ui.questions and "Apply this plan" in ui.questions[0]
    assert any("Plan:" in line for line in ui.lines) and "Apply cancelled; nothing was changed." in ui.lines
    assert not [c for c in ports.stacksets.calls if c[0].startswith("create")]


def test_approved_plan_is_applied_and_summarised(tmp_path: Path) -> None:
    desired, ports, backend = _setup(tmp_path)
    _connect_everything(ports)
    ui = FakeUI(answer=True)
    code = run_apply(ApplyRequest(desired), ui, _ctx(desired, ports, backend))
    assert code == 0, "\n".join(ui.lines)
    assert any(line.startswith("wave ") and "operations" in line for line in ui.lines)  # the summary table
    assert any("Apply complete" in line for line in ui.lines)
    state = backend.read()
    assert state is not None and state.last_apply is not None and state.last_apply["outcome"] == "succeeded"


def test_saved_plan_is_refused_when_the_state_moved(tmp_path: Path) -> None:
    from reconciler.files.planfile import write_plan
    from reconciler.plan.build import make_plan
    from tests.fakes import live_from_ports

    desired, ports, backend = _setup(tmp_path)
    plan = make_plan(desired, live_from_ports(ports, desired), template=ports.clumio.template, state=None)
    planfile = tmp_path / "plan.json"
    write_plan(plan, planfile)
    state = backend.write(State.new())  # another run wrote state since the plan was made
    assert state.serial == 1
    with pytest.raises(PlanStaleError, match="state serial moved"):
        run_apply(ApplyRequest(desired, plan_path=planfile), FakeUI(), _ctx(desired, ports, backend))
