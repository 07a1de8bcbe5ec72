"""The S3 state backend on the sandbox's S3: conditional-write lock, compare-and-swap writes, a killed holder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.app import main
from reconciler.core.errors import StateError, StateLockedError
from reconciler.core.keys import InstanceKey
from reconciler.state import InstanceRecord, State
from reconciler.state.s3 import S3Backend
from tests.integration import state_support
from tests.integration.state_support import BUCKET, KEY, s3_backend_for_test, s3_config

# One sandbox per module (its S3 is all these tests need); each test starts from an empty bucket.
module_sandbox = state_support.module_sandbox
s3_env = state_support.s3_env


@pytest.fixture
def s3_backend(s3_env: Any) -> S3Backend:
    return s3_backend_for_test()


def another_backend() -> S3Backend:
    """A second run: its own boto3 client, as a second CI job would have."""
    return s3_backend_for_test()


def test_the_state_round_trips_through_s3_with_serial_bumps(s3_backend: S3Backend) -> None:
    assert s3_backend.read() is None
    first = s3_backend.write(State.new())
    second = s3_backend.write(first.with_instance(InstanceKey("clumio-org", "300000000001", "us-east-1"),
                                                  InstanceRecord("CURRENT", connected=True)))
    assert (first.serial, second.serial) == (1, 2)
    assert another_backend().read() == second


def test_of_two_concurrent_lock_attempts_exactly_one_wins(s3_backend: S3Backend) -> None:
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def attempt(name: str) -> None:
        backend = another_backend()
        barrier.wait()
        try:
            with backend.lock(f"clumio-org apply ({name})"):
                outcomes[name] = "won"
                barrier.wait()  # keep holding until the other has tried
        except StateLockedError as exc:
            outcomes[name] = exc
            barrier.wait()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("job-a", "job-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1
    (loser,) = [outcome for outcome in outcomes.values() if outcome != "won"]
    assert f"clumio-org apply ({winners[0]})" in loser.message
    assert "clumio-org state unlock " in (loser.hint or "")
    assert s3_backend.current_lock() is None


def test_a_writer_that_lost_a_race_is_refused_not_overwriting(s3_backend: S3Backend) -> None:
    base = s3_backend.write(State.new())
    slow = another_backend()
    real_put = slow._put

    def put_after_someone_else_wrote(key: str, body: bytes, **condition: str) -> None:
        s3_backend.write(base.with_last_apply(outcome="succeeded"))  # lands between slow's read and its put
        real_put(key, body, **condition)

    slow._put = put_after_someone_else_wrote  # type: ignore[method-assign]
    with pytest.raises(StateError, match="written by another run"):
        slow.write(base.with_last_apply(outcome="failed"))
    stored = s3_backend.read()
    assert stored is not None and stored.last_apply == {"outcome": "succeeded"}


def test_a_lock_left_by_a_killed_process_is_reported_with_its_age_and_released_by_unlock(
        s3_backend: S3Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = s3_config(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from reconciler.state.s3 import S3Backend
        with S3Backend({BUCKET!r}, {KEY!r}, "us-east-1").lock("clumio-org apply --auto-approve") as info:
            print(info.id, flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert holder.stdout is not None
    lock_id = holder.stdout.readline().strip()
    assert lock_id, "the holder process never took the lock"
    holder.kill()  # SIGKILL: no finally, no release
    holder.wait()

    with pytest.raises(StateLockedError) as error, s3_backend.lock("clumio-org apply"):
        pytest.fail("the killed holder's lock was stolen")
    assert "no longer running" in error.value.message and " ago" in error.value.message
    assert f"clumio-org state unlock {lock_id}" in (error.value.hint or "")

    assert main(["state", "show", "-c", str(config)]) == 0
    shown = capsys.readouterr().out
    assert lock_id in shown and "process no longer running" in shown and " ago)" in shown

    assert main(["state", "unlock", "not-that-id", "-c", str(config)]) == 1
    assert "does not match" in capsys.readouterr().err
    assert main(["state", "unlock", lock_id, "-c", str(config)]) == 0
    assert f"released lock {lock_id}" in capsys.readouterr().out
    with s3_backend.lock("clumio-org apply"):
        pass

