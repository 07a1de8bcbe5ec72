"""The one retry policy: what it retries (throttling botocore gave up on, StaleRequest), how long, and what it says
when it gives up."""

from __future__ import annotations

import random

import pytest

from reconciler.apply.retry import RetryPolicy, retry_reason
from reconciler.apply.timing import Timing
from reconciler.core.errors import CredentialsExpired, ProviderError
from reconciler.core.ports import OperationInProgress, StaleRequest
from tests.unit.apply.helpers import FakeClock


def _policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(Timing(clock=clock, rng=random.Random(3)))


def _failing(errors: list[Exception], answer: str = "ok"):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return answer

    return call, calls


def test_throttling_and_stale_requests_are_retried_with_growing_capped_backoff() -> None:
    clock = FakeClock()
    call, calls = _failing([ProviderError("AWS kept throttling cloudformation:DescribeStackSetOperation: Rate "
                                          "exceeded"), StaleRequest("stale"), StaleRequest("stale")])
    assert _policy(clock).call(call, "DescribeStackSetOperation op-1") == "ok"
    assert len(calls) == 4
    assert len(clock.sleeps) == 3 and clock.sleeps[0] < clock.sleeps[2] <= 30


@pytest.mark.parametrize("error", [ProviderError("AWS denied cloudformation:CreateStackInstances"),
                                   OperationInProgress("Another Operation is in progress", "op-2"),
                                   CredentialsExpired("AWS credentials expired (ExpiredToken)")])
def test_everything_else_goes_up_at_once(error: Exception) -> None:
    clock = FakeClock()
    call, calls = _failing([error])
    with pytest.raises(type(error)) as raised:
        _policy(clock).call(call, "CreateStackInstances op-1")
    assert raised.value is error and len(calls) == 1 and clock.sleeps == []
    assert retry_reason(error) is None


def test_giving_up_names_the_call_the_reason_and_that_rerunning_is_safe() -> None:
    clock = FakeClock()
    call, calls = _failing([ProviderError("Rate exceeded") for _ in range(50)])
    with pytest.raises(ProviderError) as raised:
        _policy(clock).call(call, "CreateStackInstances op-1")
    assert raised.value.message == "CreateStackInstances op-1 was refused 9 times (throttled)"
    assert "nothing runs twice" in (raised.value.hint or "")
    assert len(calls) == 9 and sum(clock.sleeps) < 9 * 30
