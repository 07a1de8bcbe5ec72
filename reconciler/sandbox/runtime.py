"""Running the sandbox as a process: foreground or detached, found again through a small runtime file.

The runtime file is ``sandbox.json`` in ``$CLUMIO_ORG_SANDBOX_DIR``, or in ``.clumio-org/sandbox/`` under the current
directory. It records the serving process's pid and URLs (never a token), so ``sandbox env/status/event/stop`` in
another shell find the sandbox. A detached sandbox logs to ``sandbox.log`` next to it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.core.errors import ReconcilerError

DIR_ENV = "CLUMIO_ORG_SANDBOX_DIR"
RUNTIME_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4577
# A 150-second stack instance takes 0.75 s: the demo's three waves over ~30 accounts × 3 regions apply in about
# 30 s, most of it apply's own polling (measured: x100 → 45 s, x200/x300 → 30 s).
DEFAULT_TIME_SCALE = 200.0
START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RuntimeRecord:
    """What a running sandbox leaves behind for other commands."""

    pid: int
    host: str
    port: int
    aws_url: str
    clumio_url: str
    world: str
    time_scale: float
    started_at: str


def runtime_dir() -> Path:
    configured = os.environ.get(DIR_ENV)
    return Path(configured) if configured else Path.cwd() / ".clumio-org" / "sandbox"


def runtime_file() -> Path:
    return runtime_dir() / RUNTIME_FILE


def _no_sandbox() -> ReconcilerError:
    return ReconcilerError(f"no sandbox is running (no live sandbox recorded in {runtime_file()})",
                           hint="start one with `clumio-org sandbox start --detach`, or set "
                                f"{DIR_ENV} to the directory of the sandbox you started")


def read_record() -> RuntimeRecord | None:
    path = runtime_file()
    try:
        data = json.loads(path.read_text())
        return RuntimeRecord(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise ReconcilerError(f"the sandbox runtime file {path} is damaged: {exc}",
                              hint=f"delete {path} and start the sandbox again") from exc


def _write_record(record: RuntimeRecord) -> None:
    path = runtime_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2) + "\n")
    temporary.replace(path)


def _remove_record(pid: int) -> None:
    record = None
    with contextlib.suppress(ReconcilerError):
        record = read_record()
    if record is not None and record.pid == pid:
        runtime_file().unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited process nobody has reaped yet (a detached sandbox's parent is gone, and not every init reaps)
    # still answers signal 0; on Linux its state letter says it is a zombie.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


# --- talking to a running sandbox ------------------------------------------------------------------------------


def call(base_url: str, method: str, route: str, payload: Any = None, timeout: float = 10.0) -> Any:
    """Call the control API; raises ReconcilerError with the sandbox's message on a 4xx."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{base_url}/_sandbox/{route}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        raise ReconcilerError(f"the sandbox refused {method} /_sandbox/{route}: {message}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ReconcilerError(f"the sandbox at {base_url} does not answer: {exc}",
                              hint="check `clumio-org sandbox status`, or start it again") from exc


def _answers(base_url: str) -> bool:
    try:
        call(base_url, "GET", "env", timeout=1.0)
    except ReconcilerError:
        return False
    return True


def running_record() -> RuntimeRecord:
    """The record of a live sandbox; a record whose process is gone is cleaned up. Raises ReconcilerError."""
    record = read_record()
    if record is None:
        raise _no_sandbox()
    if not _pid_alive(record.pid) or not _answers(record.aws_url):
        if not _pid_alive(record.pid):
            runtime_file().unlink(missing_ok=True)
        raise _no_sandbox()
    return record


def resolve_url(url: str | None) -> str:
    return url.rstrip("/") if url else running_record().aws_url


# --- serving ---------------------------------------------------------------------------------------------------


def load_world(world_file: str | None, time_scale: float) -> Any:
    """The World from ``world_file`` (default: the packaged demo) on a clock scaled by ``time_scale``."""
    from reconciler.sandbox import clock, world, worldfile

    if time_scale <= 0:
        raise ReconcilerError(f"--time-scale must be positive, not {time_scale}")
    path = Path(world_file) if world_file else worldfile.default_world_path()
    if not path.is_file():
        raise ReconcilerError(f"world file {path} does not exist",
                              hint="pass --world with a world YAML file, e.g. examples/sandbox/demo.yaml")
    # Start simulated time at the wall clock's now, so ages a client computes from its own clock (drift's "last
    # checked 3 min ago", "connecting for 20 min") read sensibly against a sandbox started by hand.
    return world.World.from_file(path, clock.ScaledClock(time_scale, start=datetime.now(UTC)))


def serve_foreground(world_file: str | None, host: str, port: int, time_scale: float,
                     announce: Any = None) -> None:
    """Serve until Ctrl-C, SIGTERM or ``POST /_sandbox/shutdown``; the runtime file lives as long as the server."""
    from reconciler.sandbox.server import start_in_thread

    current = read_record()
    if current is not None and current.pid != os.getpid() and _pid_alive(current.pid) and _answers(current.aws_url):
        raise ReconcilerError(f"a sandbox is already running at {current.aws_url} (pid {current.pid})",
                              hint="stop it with `clumio-org sandbox stop`, or use another "
                                   f"{DIR_ENV} for a second sandbox")
    world = load_world(world_file, time_scale)
    try:
        sandbox = start_in_thread(world, host=host, port=port)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ReconcilerError(f"port {port} on {host} is already in use",
                                  hint="pass --port with a free port (or --port 0 for any free port), "
                                       "or stop the other sandbox with `clumio-org sandbox stop`") from exc
        raise ReconcilerError(f"cannot listen on {host}:{port}: {exc}") from exc
    stopping = threading.Event()
    sandbox.on_shutdown(stopping.set)
    pid = os.getpid()
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set()) if on_main_thread else None
    try:  # the record is written inside: whoever sees it can rely on Ctrl-C / SIGTERM cleaning it up
        _write_record(RuntimeRecord(
            pid=pid, host=sandbox.host, port=sandbox.port, aws_url=sandbox.aws_url, clumio_url=sandbox.clumio_url,
            world=str(world_file or "demo"), time_scale=time_scale,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ))
        if announce is not None:
            announce(sandbox)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
        _remove_record(pid)


def start_detached(world_file: str | None, host: str, port: int, time_scale: float) -> RuntimeRecord:
    """Start ``sandbox start`` in a background process and return once it answers."""
    current = read_record()
    if current is not None and _pid_alive(current.pid) and _answers(current.aws_url):
        raise ReconcilerError(f"a sandbox is already running at {current.aws_url} (pid {current.pid})",
                              hint="stop it with `clumio-org sandbox stop` first")
    if world_file and not Path(world_file).is_file():
        raise ReconcilerError(f"world file {world_file} does not exist",
                              hint="pass --world with a world YAML file, e.g. examples/sandbox/demo.yaml")
    directory = runtime_dir().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    runtime_file().unlink(missing_ok=True)
    command = [sys.executable, "-m", "reconciler", "sandbox", "start", "--host", host, "--port", str(port),
               "--time-scale", str(time_scale)]
    if world_file:
        command += ["--world", str(world_file)]  # same working directory: messages name the path as typed
    env = {**os.environ, DIR_ENV: str(directory)}
    log_path = directory / LOG_FILE
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _start_failure(log_path)
        record = read_record()
        if record is not None and record.pid == process.pid and _answers(record.aws_url):
            return record
        time.sleep(0.05)
    process.terminate()
    raise ReconcilerError(f"the sandbox did not answer within {START_TIMEOUT_SECONDS:.0f} s",
                          hint=f"see its log in {log_path}")


def _start_failure(log_path: Path) -> ReconcilerError:
    lines = log_path.read_text(errors="replace").splitlines()
    error = next((line[len("error: "):] for line in lines if line.startswith("error: ")), None)
    hint = next((line[len("hint: "):] for line in lines if line.startswith("hint: ")), None)
    if error:
        return ReconcilerError(error, hint=hint)
    tail = " | ".join(lines[-3:]) or "no output"
    return ReconcilerError(f"the sandbox exited during start-up ({tail})", hint=f"see its log in {log_path}")


def stop(timeout: float = 10.0) -> RuntimeRecord:
    """Stop the recorded sandbox (shutdown request, then SIGTERM to its recorded pid) and remove the record."""
    record = read_record()
    if record is None or not _pid_alive(record.pid):
        runtime_file().unlink(missing_ok=True)
        raise _no_sandbox()
    with contextlib.suppress(ReconcilerError):
        call(record.aws_url, "POST", "shutdown", timeout=2.0)
    deadline = time.monotonic() + timeout
    while _pid_alive(record.pid) and time.monotonic() < deadline:
        _reap(record.pid)
        time.sleep(0.05)
    if _pid_alive(record.pid):
        os.kill(record.pid, signal.SIGTERM)
    runtime_file().unlink(missing_ok=True)
    return record


def _reap(pid: int) -> None:
    """Collect our own exited child, if it is one, so it stops counting as alive."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
