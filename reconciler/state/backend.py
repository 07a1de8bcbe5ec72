"""The state backend port: read, write (compare-and-swap on serial and lineage), and the run lock with its record.

Every backend stores one state document and, while a command that writes runs, one lock record next to it. The
lock record says who holds the lock (user@host, pid), where (the CI run URL when there is one), when and why (the
command), so the person who finds it held knows whom to ask — and, if the holder is dead, how to release it
(``clumio-org state unlock LOCK_ID``). A lock is never taken over silently: a dead holder is reported, not stolen.
"""

from __future__ import annotations

import abc
import contextlib
import getpass
import json
import logging
import os
import shlex
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from reconciler import __version__
from reconciler.core.errors import StateError, StateLockedError
from reconciler.state.codec import state_identity
from reconciler.state.model import FORMAT_VERSION, State, parse_time, utc_now

log = logging.getLogger(__name__)


def ci_run_url(env: dict[str, str] | None = None) -> str | None:
    """The URL of the CI run this process belongs to (GitHub Actions, GitLab CI, Jenkins, Buildkite), if any."""
    env = dict(os.environ) if env is None else env
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    for name in ("CI_JOB_URL", "BUILD_URL", "BUILDKITE_BUILD_URL"):
        if env.get(name):
            return env[name]
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # containers often run as a uid with no passwd entry
        return f"uid{os.getuid()}"


def _cli_command() -> str | None:
    """The clumio-org command line this process runs, when it is the CLI (never a secret: tokens come from the
    environment, not from arguments)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    if program == "clumio-org" or (program == "__main__.py" and "reconciler" in sys.argv[0]):
        return shlex.join(["clumio-org", *sys.argv[1:]])
    return None


def format_age(seconds: float) -> str:
    """``45s``, ``12m05s``, ``3h07m``, ``2d04h``: how long a lock has been held."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


@dataclass(frozen=True)
class LockInfo:
    """The lock record: ``id`` (what ``state unlock`` takes), ``operation`` (why, as the caller names it: "apply"),
    ``command`` (the full clumio-org command line, when run from the CLI), ``who`` (user@host), ``host`` and ``pid``
    (to tell a dead holder on this machine), ``where`` (CI run URL or None), ``created_at`` (when), ``version``
    (of clumio-org)."""

    id: str
    operation: str
    who: str
    host: str
    pid: int
    where: str | None
    created_at: str
    version: str = __version__
    command: str | None = None

    @classmethod
    def create(cls, operation: str) -> LockInfo:
        host = socket.gethostname()
        return cls(id=str(uuid.uuid4()), operation=operation, who=f"{_user()}@{host}", host=host, pid=os.getpid(),
                   where=ci_run_url(), created_at=utc_now(), command=_cli_command())

    def to_text(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_text(cls, text: str | bytes, source: str) -> LockInfo:
        try:
            data: Any = json.loads(text)
            return cls(id=str(data["id"]), operation=str(data.get("operation", "?")), who=str(data.get("who", "?")),
                       host=str(data.get("host", "")), pid=int(data.get("pid", 0)), where=data.get("where"),
                       created_at=str(data["created_at"]), version=str(data.get("version", "?")),
                       command=data.get("command"))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"the lock record {source} is unreadable ({exc})",
                             hint=f"if no clumio-org run is going on, delete {source} by hand") from None

    def age_seconds(self, now: datetime | None = None) -> float:
        created = parse_time(self.created_at)
        assert created is not None
        return ((now or datetime.now(UTC)) - created).total_seconds()

    def holder_is_dead(self) -> bool:
        """True only when the holder ran on this machine and its process is gone (elsewhere we cannot tell)."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, run by another user
            return False
        return False

    def describe(self) -> str:
        """One line for people: who, pid, why, when and how long ago, where."""
        where = f", CI run {self.where}" if self.where else ""
        return (f"{self.who} (pid {self.pid}) for `{self.command or self.operation}` since {self.created_at} "
                f"({format_age(self.age_seconds())} ago){where}")


def locked_error(holder: LockInfo, where: str) -> StateLockedError:
    """The error a second run gets: who holds the lock, since when, and the exact command to release it."""
    if holder.holder_is_dead():
        message = (f"the state at {where} is locked by a process that is no longer running: {holder.describe()}; "
                   f"the lock was left {format_age(holder.age_seconds())} ago")
        hint = (f"that run was killed; check what it left (`clumio-org state show`), then release the lock: "
                f"clumio-org state unlock {holder.id}")
    else:
        message = f"the state at {where} is locked by {holder.describe()}"
        hint = (f"wait for that run to finish; if it is dead, release the lock with: "
                f"clumio-org state unlock {holder.id}")
    return StateLockedError(message, hint)


class StateBackend(abc.ABC):
    """Where one state document and its lock record live (local file, S3 object)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the state lives, for people (``s3://bucket/key (…)`` or a path)."""

    @abc.abstractmethod
    def read(self) -> State | None:
        """The stored state (older formats migrated in memory), or None when there is none yet."""

    @abc.abstractmethod
    def write(self, state: State, *, force: bool = False) -> State:
        """Store ``state`` atomically and return it as stored, with ``serial`` bumped.

        Refused (StateError) unless ``force``: a lineage that differs from the stored one, or a serial lower than the
        stored one (the state changed since it was read — write from the State the last write returned). One
        exception: when this backend's previous write raised (Ctrl-C) after storing, writing again from the state
        that write started from is accepted.
        """

    # The write in flight: set before the state is stored, cleared once write() is about to return it. Still set
    # at the next write means the last one raised (Ctrl-C) after or before storing — see check_write.
    _own_write: tuple[str, int, int] | None = None

    def _next_state(self, current: tuple[str, int] | None, state: State, *, force: bool) -> State:
        """:func:`check_write` with this backend's unreturned write, which it then records as the write in flight."""
        stored = check_write(current, state, self.describe(), force=force, own_write=self._own_write)
        self._own_write = (stored.lineage, stored.serial, state.serial)
        return stored

    def _returned(self, stored: State) -> State:
        self._own_write = None
        return stored

    @abc.abstractmethod
    def current_lock(self) -> LockInfo | None:
        """The lock record, if the state is locked."""

    @abc.abstractmethod
    def _acquire(self, info: LockInfo) -> None:
        """Create the lock record if none exists, atomically; else raise :func:`locked_error`."""

    @abc.abstractmethod
    def _delete_lock(self, lock_id: str) -> bool:
        """Remove the lock record if it is still ``lock_id``, atomically (so a lock taken meanwhile by another run
        survives); False when the record is gone or belongs to another run."""

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[LockInfo]:
        """Hold the state lock while the block runs; released on exit, on error, on Ctrl-C and on SIGTERM."""
        info = LockInfo.create(operation)
        acquired = False
        try:  # _acquire inside: a Ctrl-C just after the lock record was created must still remove it
            self._acquire(info)
            acquired = True
            log.debug("state lock %s taken at %s", info.id, self.describe())
            with _sigterm_raises():
                yield info
        finally:
            self._release(info, taken=acquired)

    def unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock record if its id is ``lock_id`` (``state unlock``); returns what was removed."""
        holder = self.current_lock()
        if holder is None:
            raise StateError(f"the state at {self.describe()} is not locked", hint="nothing to unlock")
        if holder.id != lock_id:
            raise StateError(f"lock id {lock_id} does not match the lock held at {self.describe()}: "
                             f"{holder.describe()}",
                             hint=f"the lock id to release is {holder.id} — make sure that run is really gone")
        if not self._delete_lock(holder.id):
            raise StateError(f"the lock at {self.describe()} changed while releasing it", hint="look again with "
                             "`clumio-org state show`")
        return holder

    def _release(self, info: LockInfo, *, taken: bool = True) -> None:
        try:
            with _interrupts_deferred():
                released = self._delete_lock(info.id)
            if not released and taken:
                log.warning("state lock %s was released by someone else (state unlock); leaving the lock record "
                            "as it is", info.id)
        except Exception as exc:  # never hide the error that ended the run behind a failed release
            log.warning("could not release the state lock %s at %s: %s; release it with "
                        "`clumio-org state unlock %s`", info.id, self.describe(), exc, info.id)


def readable_identity(text: bytes, source: str, *, force: bool) -> tuple[str, int] | None:
    """(lineage, serial) of the stored state. A stored state that cannot be read stops every write but a forced
    one: ``state push --force`` is how a corrupt state is replaced."""
    try:
        return state_identity(text, source=source)
    except StateError:
        if force:
            log.warning("replacing the unreadable state at %s", source)
            return None
        raise


def check_write(current: tuple[str, int] | None, state: State, where: str, *, force: bool,
                own_write: tuple[str, int, int] | None = None) -> State:
    """The state to store, given the stored (lineage, serial): lineage and serial rules applied, serial bumped past
    both the given and the stored one.

    ``own_write`` is (lineage, serial stored, serial it was based on) of this process's previous write. A write
    interrupted after the state was stored but before the caller got the result (Ctrl-C lands anywhere) leaves the
    caller holding the state it had before; writing from it again is accepted, because the newer stored state is
    that very write, not another run's.
    """
    stored_lineage, stored_serial = current if current is not None else (None, 0)
    ours = own_write is not None and own_write == (stored_lineage, stored_serial, state.serial)
    if current is not None and not force:
        if stored_lineage != state.lineage:
            raise StateError(
                f"the state at {where} has lineage {stored_lineage}, not {state.lineage}: "
                "it belongs to another deployment",
                hint="point the config's state at the right place, or overwrite with `state push --force`",
            )
        if state.serial < stored_serial and not ours:
            raise StateError(
                f"the state at {where} changed since it was read (stored serial {stored_serial}, "
                f"this one {state.serial}); another run wrote it",
                hint="re-run the command so it starts from the latest state",
            )
    return replace(state, serial=max(state.serial, stored_serial) + 1, format_version=FORMAT_VERSION)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Let the lock release finish even if Ctrl-C is pressed again meanwhile (it takes one S3 call at most); the
    interrupt is delivered right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for signum in caught[:1]:
            signal.raise_signal(signum)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM (CI cancelling a job) into SystemExit so ``finally`` blocks — the lock release — run."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
            signal.SIG_DFL, None):
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
