"""Drift detection through the StackSets port: waiting with the injected sleeper, bounded by the timeout."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.core.errors import ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import OperationStatus, OperationView, StackDriftStatus, StackSetDriftDetails
from reconciler.core.ports import OperationInProgress
from reconciler.discover.drift_detection import detect, last_detection, resource_drifts
from tests.fakes import instance, live_stack_set, make_desired, make_template

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Port:
    """Just the StackSets calls detection makes; the operation finishes after ``polls`` describes."""

    def __init__(self, polls: int, busy_with: OperationView | None = None) -> None:
        self.polls = polls
        self.busy_with = busy_with
        self.described = 0
        self.started: list[str] = []

    def detect_drift(self, stack_set: str, operation_id: str | None = None) -> str:
        if self.busy_with is not None:
            raise OperationInProgress("busy", self.busy_with.operation_id)
        self.started.append(stack_set)
        return "drift-op-1"

    def describe_operation(self, stack_set: str, operation_id: str) -> OperationView:
        self.described += 1
        done = self.described > self.polls
        return OperationView(operation_id, stack_set, "DETECT_DRIFT",
                             OperationStatus.SUCCEEDED if done else OperationStatus.RUNNING)

    def list_operations(self, stack_set: str) -> list[OperationView]:
        return [self.busy_with] if self.busy_with else []

    def list_resource_drifts(self, stack_set: str, account: str, region: str, operation_id: str) -> list[dict]:
        return [{"logical_resource_id": "ClumioIAMRole", "resource_type": "AWS::IAM::Role", "drift_status": "MODIFIED"},
                {"logical_resource_id": "Topic", "resource_type": "AWS::SNS::Topic", "drift_status": "IN_SYNC"}]


def test_detection_waits_through_the_sleeper_until_the_operation_finishes() -> None:
    port, slept = Port(polls=3), []
    result = detect(port, "clumio-org", sleep=slept.append, poll_seconds=10, timeout_seconds=600, now=lambda: NOW)
    assert (result.status, result.started_here, result.operation_id) == ("COMPLETED", True, "drift-op-1")
    assert slept == [10, 10, 10]


def test_detection_gives_up_at_the_timeout_without_sleeping_past_it() -> None:
    port, slept = Port(polls=1000), []
    result = detect(port, "clumio-org", sleep=slept.append, poll_seconds=30, timeout_seconds=75, now=lambda: NOW)
    assert result.status == "TIMED_OUT"
    assert sum(slept) == 75


def test_a_detection_already_running_is_followed_instead_of_failing() -> None:
    running = OperationView("theirs", "clumio-org", "DETECT_DRIFT", OperationStatus.RUNNING)
    port = Port(polls=0, busy_with=running)
    result = detect(port, "clumio-org", sleep=lambda s: None, poll_seconds=1, timeout_seconds=10, now=lambda: NOW)
    assert result.operation_id == "theirs" and port.started == []


def test_another_operation_running_is_a_clear_error() -> None:
    running = OperationView("apply-op", "clumio-org", "UPDATE", OperationStatus.RUNNING)
    with pytest.raises(ReconcilerError) as err:
        detect(Port(0, busy_with=running), "clumio-org", sleep=lambda s: None, poll_seconds=1, timeout_seconds=10,
               now=lambda: NOW)
    assert "apply-op is in progress" in err.value.message and "without --detect" in (err.value.hint or "")


def test_last_detection_reports_its_age_or_never_checked() -> None:
    desired = make_desired()
    ss = live_stack_set(desired, make_template())
    assert last_detection(ss, NOW).status == "NOT_CHECKED"
    checked = ss.__class__(**{**ss.__dict__, "drift": StackSetDriftDetails("DRIFTED", "COMPLETED",
                                                                            datetime(2026, 11, 27, 9, 0, tzinfo=UTC))})
    last = last_detection(checked, NOW)
    assert (last.status, last.started_here, last.age_seconds) == ("COMPLETED", False, 3 * 3600)


def test_resource_drifts_are_read_only_for_drifted_instances_and_skip_in_sync_resources() -> None:
    drifted = instance("clumio-org", "333300000001", "us-east-1")
    drifted = replace(drifted, drift_status=StackDriftStatus.DRIFTED)
    in_sync = instance("clumio-org", "333300000002", "us-east-1")
    rows = resource_drifts(Port(0), [drifted, in_sync], {"clumio-org": "drift-op-1"})
    assert list(rows) == [InstanceKey("clumio-org", "333300000001", "us-east-1")]
    assert [r["logical_resource_id"] for r in rows[drifted.key]] == ["ClumioIAMRole"]
