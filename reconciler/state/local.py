"""The local state backend: one JSON file, written atomically, with a lock record next to it.

Layout for ``.clumio-org/state.json``:
- ``state.json`` — the state; replaced atomically (temp file in the same folder, fsync, ``os.replace``, fsync of the
  folder), so a crash at any point leaves either the old or the new state, never half of one. A crash may leave a
  ``.state.json.*.tmp`` file behind; it is never read and the next write does not need it.
- ``state.json.lock`` — the lock record (JSON: id, operation, who, host, pid, where, created_at), created with
  O_EXCL so exactly one run gets it; removed when the run ends.
- a guard held for a few milliseconds around lock-taking and around each read-check-replace write, so processes on
  this machine never interleave those steps: an ``flock`` on the state's folder itself (POSIX), so a run leaves no
  file behind; where folders cannot be locked (Windows), a ``state.json.lock.guard`` filelock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.core.errors import StateError
from reconciler.state.backend import LockInfo, StateBackend, locked_error, readable_identity
from reconciler.state.codec import state_from_text, state_to_text
from reconciler.state.model import State

_GUARD_TIMEOUT_SECONDS = 30


class LocalBackend(StateBackend):
    """State in a local JSON file (the default: ``.clumio-org/state.json`` next to the config file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._guard_path = self.path.with_name(self.path.name + ".lock.guard")

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> State | None:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the state file {self.path}: {exc.strerror}") from None
        return state_from_text(text, source=str(self.path))

    def write(self, state: State, *, force: bool = False) -> State:
        with self._guard():
            stored = self._next_state(self._identity(force=force), state, force=force)
            atomic_write(self.path, state_to_text(stored).encode())
        return self._returned(stored)

    def _identity(self, *, force: bool) -> tuple[str, int] | None:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the state file {self.path}: {exc.strerror}") from None
        return readable_identity(text, str(self.path), force=force)

    def current_lock(self) -> LockInfo | None:
        try:
            text = self.lock_path.read_bytes()
        except FileNotFoundError:
            return None
        return LockInfo.from_text(text, str(self.lock_path))

    def _acquire(self, info: LockInfo) -> None:
        with self._guard():
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self.current_lock()
                if holder is None:  # released between our two looks: the caller may simply retry
                    raise StateError(f"the state lock at {self.lock_path} changed hands; try again") from None
                raise locked_error(holder, self.describe()) from None
            with os.fdopen(fd, "wb") as handle:
                handle.write(info.to_text().encode())
                handle.flush()
                os.fsync(handle.fileno())

    def _delete_lock(self, lock_id: str) -> bool:
        with self._guard():  # lock-taking also runs under the guard, so the record cannot change in between
            holder = self.current_lock()
            if holder is None or holder.id != lock_id:
                return False
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()
            return True

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the state folder {self.path.parent}: {exc.strerror}") from None
        guard = _folder_guard(self.path.parent) if _fcntl is not None else self._file_guard()
        with guard:
            yield

    @contextlib.contextmanager
    def _file_guard(self) -> Iterator[None]:
        import filelock

        try:
            with filelock.FileLock(str(self._guard_path), timeout=_GUARD_TIMEOUT_SECONDS):
                yield
        except filelock.Timeout:
            raise StateError(f"could not take {self._guard_path} within {_GUARD_TIMEOUT_SECONDS}s",
                             hint="another clumio-org process on this machine is stuck writing the state") from None


try:
    import fcntl as _fcntl
except ImportError:  # Windows
    _fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder itself: released when the descriptor closes (or the process dies), and
    no file to leave behind."""
    assert _fcntl is not None
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + _GUARD_TIMEOUT_SECONDS
        while True:
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StateError(f"could not lock the state folder {folder} within {_GUARD_TIMEOUT_SECONDS}s",
                                     hint="another clumio-org process on this machine is stuck writing the state"
                                     ) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers and crashes see the old or the new content, never a mix."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
