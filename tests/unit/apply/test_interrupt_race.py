"""Ctrl-C right after (or during) a submit: the operation just submitted is stopped, never left running because the
interrupt landed between the AWS call and the journal write that follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.apply.journal import Journal
from reconciler.apply.model import Outcome
from reconciler.state import JournalStatus
from tests.unit.apply.helpers import PLAN_ID, World, onboarding_plan

OP1 = f"clumio-org-{PLAN_ID}-001"


def test_ctrl_c_between_the_submit_and_its_journal_write_still_stops_the_operation(
        tmp_path: Path, monkeypatch: Any) -> None:
    world = World(tmp_path)
    real = Journal.running

    def interrupted(self: Journal, operation_id: str) -> None:
        raise KeyboardInterrupt  # lands after AWS took the call, before "RUNNING" reached the journal

    monkeypatch.setattr(Journal, "running", interrupted)
    result = world.run(onboarding_plan())
    monkeypatch.setattr(Journal, "running", real)

    assert result.outcome is Outcome.INTERRUPTED
    assert world.stacksets.mutating_calls("create_instances") == [("create_instances", OP1)]
    assert world.stacksets.stopped == [OP1]
    assert world.state().journal_entry(OP1).status is JournalStatus.STOPPED  # type: ignore[union-attr]
    assert "StopStackSetOperation sent for " + OP1 in (result.stop_reason or "")
    assert "before the next submit" not in (result.stop_reason or "")


def test_ctrl_c_before_the_call_left_says_it_never_reached_aws_and_the_next_run_submits_it_once(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    real = world.stacksets.create_instances

    def interrupted(op: Any) -> str:
        raise KeyboardInterrupt  # the request never left

    world.stacksets.create_instances = interrupted  # type: ignore[method-assign]
    result = world.run(onboarding_plan())
    world.stacksets.create_instances = real  # type: ignore[method-assign]

    assert result.outcome is Outcome.INTERRUPTED
    assert f"{OP1} never reached AWS" in (result.stop_reason or "")
    assert world.stacksets.stopped == [OP1, OP1]  # asked, and asked once more, in case AWS was still taking it
    world.stacksets.stopped.clear()
    # the journal keeps it SUBMITTED: the next apply of this plan looks it up by id, finds nothing, submits it once
    assert world.state().journal_entry(OP1).status is JournalStatus.SUBMITTED  # type: ignore[union-attr]
