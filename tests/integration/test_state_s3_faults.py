"""The S3 state backend under S3 faults the sandbox injects on the state's keys: 5xx and SlowDown are retried, a
put whose answer was lost is recognised as ours, a lost compare-and-swap is reported and nothing is overwritten, and
what retries do not cure is StateUnavailable (apply exits 4 and the next run resumes)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.errors import Resumable, StateError, StateUnavailable
from reconciler.state import State
from reconciler.state.s3 import S3Backend
from tests.integration import state_support
from tests.integration.state_support import KEY, s3_backend_for_test

module_sandbox = state_support.module_sandbox
s3_env = state_support.s3_env


@pytest.fixture
def s3(s3_env: Any) -> Any:
    yield s3_env
    s3_env.world.s3_faults.clear()


def fault(sandbox: Any, **spec: Any) -> None:
    sandbox.world.apply_event("s3-fault", spec)


def test_5xx_and_slow_down_on_the_state_key_are_retried(s3: Any) -> None:
    backend = s3_backend_for_test()
    first = backend.write(State.new())
    fault(s3, key=KEY, methods=["PUT"], code="InternalError", count=2)
    fault(s3, key=KEY, methods=["GET"], code="SlowDown", count=2)

    second = backend.write(first.with_last_apply(outcome="succeeded"))

    assert second.serial == 2 and backend.read() == second
    assert all(f["count"] == 0 for f in s3.world.s3_faults)  # every injected fault was met and retried


def test_a_put_that_landed_but_whose_answer_was_lost_is_ours_not_a_lost_race(s3: Any) -> None:
    backend = s3_backend_for_test()
    first = backend.write(State.new())
    fault(s3, key=KEY, methods=["PUT"], code="InternalError", count=1, after=True)

    second = backend.write(first.with_last_apply(outcome="succeeded"))  # the retry meets 412: the body is ours

    assert second.serial == 2 and backend.read() == second
    assert backend.write(second).serial == 3  # and the next write carries on from it


def test_a_lost_compare_and_swap_is_reported_and_nothing_is_overwritten(s3: Any) -> None:
    backend = s3_backend_for_test()
    first = backend.write(State.new())
    fault(s3, key=KEY, methods=["PUT"], code="PreconditionFailed", count=1)

    with pytest.raises(StateError, match="lost the compare-and-swap") as err:
        backend.write(first.with_last_apply(outcome="failed"))

    assert "nothing was overwritten" in err.value.message and not isinstance(err.value, Resumable)
    assert backend.read() == first


def test_s3_failing_beyond_retries_is_state_unavailable_and_the_state_is_unchanged(s3: Any) -> None:
    backend = s3_backend_for_test()
    first = backend.write(State.new())
    fault(s3, key=KEY, methods=["PUT"], code="ServiceUnavailable")

    with pytest.raises(StateUnavailable, match="ServiceUnavailable"):
        backend.write(first.with_last_apply(outcome="failed"))

    s3.world.s3_faults.clear()
    assert backend.read() == first


def test_the_lock_survives_a_lost_answer_and_latency(s3: Any) -> None:
    backend: S3Backend = s3_backend_for_test()
    fault(s3, key=KEY + ".lock", methods=["PUT"], code="InternalError", count=1, after=True)
    fault(s3, key="*", latency_ms=50, count=20)

    with backend.lock("apply") as held:
        assert backend.current_lock() == held
        backend.write(State.new())

    assert backend.current_lock() is None
