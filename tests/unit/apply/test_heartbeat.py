"""In CI (no terminal) apply prints a heartbeat per running operation at a steady interval, so a long wave is never
silent in the log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.options import ApplyOptions
from reconciler.apply.progress import PlainProgress
from reconciler.apply.timing import Timing
from reconciler.core.errors import ReconcilerError
from tests.unit.apply.helpers import World, onboarding_plan


def _run_with_heartbeat(tmp_path: Path, every: float) -> tuple[list[str], list[float]]:
    world = World(tmp_path, duration=600.0)
    stamps: list[float] = []

    def emit(line: str) -> None:
        world.lines.append(line)
        stamps.append(world.clock.t)

    timing = Timing(clock=world.clock, poll_seconds=10, poll_max_seconds=60)
    progress = PlainProgress(emit, heartbeat=every, now=timing.now)
    options = ApplyOptions(org_id=world.org.org_id, asset_types=("EC2/EBS",), verify_connections_seconds=900.0,
                           rotate_credentials=False, management_stack_set="clumio-org-management")
    Executor(onboarding_plan(), world, Journal(world.backend, None), options, timing=timing,
             progress=progress, confirm_stop=lambda _op: True).run()
    return world.lines, stamps


def test_each_running_operation_prints_a_heartbeat_at_a_steady_interval(tmp_path: Path) -> None:
    lines, stamps = _run_with_heartbeat(tmp_path, 120.0)
    beats = [(line, at) for line, at in zip(lines, stamps, strict=True) if " running: " in line]
    # Two 600-second CreateStackInstances operations: a beat about every 120 s of each, never one per poll.
    per_op: dict[str, list[float]] = {}
    for line, at in beats:
        match = re.search(r"(clumio-org-\S+-\d{3}) running: (\d+)/(\d+) instances done", line)
        assert match, line
        per_op.setdefault(match.group(1), []).append(at)
    assert sorted(per_op) == ["clumio-org-0123456789abcdef-001", "clumio-org-0123456789abcdef-002"]
    for times in per_op.values():
        assert 3 <= len(times) <= 5
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(120.0 <= gap < 120.0 + 60.0 for gap in gaps), gaps  # steady: the interval plus at most one poll
    assert any("elapsed" in line for line, _ in beats)


def test_no_heartbeat_without_an_interval(tmp_path: Path) -> None:
    world = World(tmp_path, duration=600.0)
    world.run(onboarding_plan())
    assert not any(" running: " in line for line in world.lines)


def test_heartbeat_interval_comes_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The CI terminal beats at the run's setting, read once into its context."""
    from reconciler.cli.apply import TerminalUI
    from reconciler.usecases.context import Context
    from tests.fakes import make_desired

    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("CLUMIO_ORG_HEARTBEAT_SECONDS", raising=False)
    assert TerminalUI.of(Context(make_desired())).progress.heartbeat == 60.0  # type: ignore[attr-defined]
    monkeypatch.setenv("CLUMIO_ORG_HEARTBEAT_SECONDS", "15")
    assert TerminalUI.of(Context(make_desired())).progress.heartbeat == 15.0  # type: ignore[attr-defined]
    monkeypatch.setenv("CLUMIO_ORG_HEARTBEAT_SECONDS", "soon")
    with pytest.raises(ReconcilerError, match="CLUMIO_ORG_HEARTBEAT_SECONDS='soon' is not a positive number"):
        TerminalUI.of(Context(make_desired()))
