"""The local backend: atomic writes that survive a crash, serial and lineage rules, and the run lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import StateError, StateLockedError
from reconciler.core.keys import InstanceKey
from reconciler.state import InstanceRecord, LocalBackend, State
from reconciler.state.backend import format_age


def backend_at(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / ".clumio-org" / "state.json")


def a_state(status: str = "CURRENT") -> State:
    return State.new().with_instance(InstanceKey("clumio-org", "111111111111", "us-east-1"), InstanceRecord(status))


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=60)


# --- writes --------------------------------------------------------------------------------------------------------

def test_a_missing_state_reads_as_none(tmp_path: Path) -> None:
    assert backend_at(tmp_path).read() is None


def test_each_write_bumps_the_serial_and_keeps_the_lineage(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    first = backend.write(a_state())
    second = backend.write(first.with_instance(InstanceKey("clumio-org", "111111111111", "us-west-2"),
                                               InstanceRecord("OUTDATED")))
    assert (first.serial, second.serial) == (1, 2)
    assert backend.read() == second and second.lineage == first.lineage


def test_a_write_from_a_stale_state_is_refused(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    first = backend.write(a_state())
    backend.write(first)
    with pytest.raises(StateError, match="changed since it was read"):
        backend.write(first)


def test_a_write_interrupted_after_storing_can_be_redone_from_the_state_the_caller_still_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reconciler.state.local as local

    backend = backend_at(tmp_path)
    held = backend.write(a_state())
    monkeypatch.setattr(local, "_fsync_dir", lambda folder: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after the rename: stored, but the caller never got it back
        backend.write(held.with_last_apply(outcome="running"))
    monkeypatch.undo()
    stored = backend.read()
    assert stored is not None and stored.serial == held.serial + 1

    redone = backend.write(held.with_last_apply(outcome="interrupted"))
    assert redone.serial == held.serial + 2 and redone.last_apply == {"outcome": "interrupted"}
    with pytest.raises(StateError, match="changed since it was read"):  # another run holding that state is not
        LocalBackend(backend.path).write(held)


def test_a_state_of_another_lineage_is_never_written_over_without_force(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    backend.write(a_state())
    other = a_state("OUTDATED")
    with pytest.raises(StateError, match="another deployment"):
        backend.write(other)
    stored = backend.write(other, force=True)
    assert stored.lineage == other.lineage and stored.serial == 2


def test_a_crash_between_temp_write_and_replace_leaves_the_previous_state(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    before = backend.write(a_state())
    # A real crash: the process dies (no cleanup, no finally) right when it would rename the temp file.
    result = run_python("""
        import os, sys
        from pathlib import Path
        from reconciler.state import LocalBackend
        backend = LocalBackend(Path(sys.argv[1]))
        state = backend.read()
        os.replace = lambda *args: os._exit(137)
        backend.write(state.with_last_apply(outcome="half-written"))
    """, str(backend.path))
    assert result.returncode == 137, result.stderr
    leftovers = [p.name for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the simulated crash should leave the temp file behind"
    assert backend.read() == before
    after = backend.write(before.with_last_apply(outcome="succeeded"))
    assert after.serial == 2 and backend.read() == after


def test_a_failed_replace_cleans_up_its_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = backend_at(tmp_path)
    before = backend.write(a_state())

    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        backend.write(before)
    monkeypatch.undo()
    assert backend.read() == before
    assert not [p for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]


# --- lock ----------------------------------------------------------------------------------------------------------

def test_the_lock_record_says_who_where_when_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "platform/org-backup")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    backend = backend_at(tmp_path)
    with backend.lock("clumio-org apply plan.json") as info:
        record = json.loads(backend.lock_path.read_text())
    assert record["id"] == info.id
    assert record["operation"] == "clumio-org apply plan.json"
    assert record["who"].endswith("@" + record["host"]) and record["pid"] == os.getpid()
    assert record["where"] == "https://github.example.com/platform/org-backup/actions/runs/4242"
    assert abs((datetime.now(UTC) - datetime.fromisoformat(record["created_at"])).total_seconds()) < 60


def test_a_gitlab_job_url_is_recorded_as_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI_JOB_URL", "https://gitlab.example.com/p/-/jobs/7")
    with backend_at(tmp_path).lock("apply") as info:
        assert info.where == "https://gitlab.example.com/p/-/jobs/7"


def test_a_held_lock_names_the_holder_its_age_and_the_unlock_command(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    with backend.lock("clumio-org apply") as info, pytest.raises(StateLockedError) as error, \
            backend.lock("clumio-org state push x.json"):
        pytest.fail("a second holder got the lock")
    message = f"{error.value.message}\n{error.value.hint}"
    assert info.who in message and f"pid {os.getpid()}" in message and "`clumio-org apply`" in message
    assert " ago" in message
    assert f"clumio-org state unlock {info.id}" in message


def test_the_lock_is_released_when_the_block_fails_or_is_interrupted(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), backend.lock("apply"):
            raise exc
        assert backend.current_lock() is None


def test_sigterm_releases_the_lock(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    result = run_python("""
        import os, signal, sys, time
        from pathlib import Path
        from reconciler.state import LocalBackend
        with LocalBackend(Path(sys.argv[1])).lock("apply"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
    """, str(backend.path))
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert backend.current_lock() is None


def test_a_lock_left_by_a_dead_process_is_reported_with_its_age_and_not_stolen(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from reconciler.state import LocalBackend
        with LocalBackend(Path(sys.argv[1])).lock("clumio-org apply") as info:
            print(info.id, flush=True)
            time.sleep(60)
    """), str(backend.path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    lock_id = holder.stdout.readline().strip()
    holder.kill()
    holder.wait()
    # Pretend it died twelve minutes ago.
    record = json.loads(backend.lock_path.read_text())
    record["created_at"] = (datetime.now(UTC) - timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    backend.lock_path.write_text(json.dumps(record))

    with pytest.raises(StateLockedError) as error, backend.lock("clumio-org apply"):
        pytest.fail("a dead holder's lock was stolen")
    assert "no longer running" in error.value.message and "12m" in error.value.message
    assert f"clumio-org state unlock {lock_id}" in (error.value.hint or "")
    assert backend.current_lock() is not None

    backend.unlock(lock_id)
    with backend.lock("clumio-org apply"):
        pass


def test_unlock_refuses_a_wrong_id_and_an_unlocked_state(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    with pytest.raises(StateError, match="not locked"):
        backend.unlock("whatever")
    with backend.lock("apply") as info:
        with pytest.raises(StateError, match="does not match") as error:
            backend.unlock("not-the-id")
        assert info.id in (error.value.hint or "")
        assert backend.current_lock() == info


def test_a_run_whose_lock_was_force_released_does_not_remove_the_next_holders_lock(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    other_run = LocalBackend(backend.path)
    with backend.lock("first") as first:
        backend.unlock(first.id)  # an operator released it while the run was still going
        second = other_run.lock("second")
        second_info = second.__enter__()
    assert backend.current_lock() == second_info
    second.__exit__(None, None, None)
    assert backend.current_lock() is None


def _try_lock(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        with LocalBackend(Path(path)).lock(f"apply {os.getpid()}"):
            results.put("won")
            barrier.wait()  # hold the lock until every contender has tried
    except StateLockedError as exc:
        results.put(f"locked: {exc.message}")
        barrier.wait()


def test_of_concurrent_processes_exactly_one_gets_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_try_lock, args=(str(backend_at(tmp_path).path), barrier, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes.count("won") == 1
    assert all("is locked by" in o for o in outcomes if o != "won")


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (725, "12m05s"), (11220, "3h07m"), (187200, "2d04h")])
def test_lock_ages_read_like_durations(seconds: int, text: str) -> None:
    assert format_age(seconds) == text


def test_a_second_ctrl_c_during_the_release_still_releases_then_interrupts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = backend_at(tmp_path)
    real_delete = backend._delete_lock

    def impatient_delete(lock_id: str) -> bool:
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again while the lock is being released
        return real_delete(lock_id)

    monkeypatch.setattr(backend, "_delete_lock", impatient_delete)
    with pytest.raises(KeyboardInterrupt), backend.lock("apply"):
        raise KeyboardInterrupt
    assert backend.current_lock() is None


def test_a_ctrl_c_right_after_the_lock_was_taken_still_releases_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = backend_at(tmp_path)
    real_acquire = backend._acquire

    def acquire_then_interrupted(info: Any) -> None:
        real_acquire(info)
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "_acquire", acquire_then_interrupted)
    with pytest.raises(KeyboardInterrupt), backend.lock("apply"):
        pytest.fail("the block must not run")
    assert backend.current_lock() is None


def test_a_refused_lock_leaves_the_holders_lock_alone(tmp_path: Path) -> None:
    backend = backend_at(tmp_path)
    with backend.lock("first") as first:
        with pytest.raises(StateLockedError), LocalBackend(backend.path).lock("second"):
            pass
        assert backend.current_lock() == first
