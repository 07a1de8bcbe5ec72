"""Progress of a run: one plain line per event in CI, a live rich display on a terminal; the final summary table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from reconciler.apply.model import ApplyResult, GateResult, OperationOutcome, WaveResult
from reconciler.core.plan import Operation


def human_seconds(seconds: float) -> str:
    """``45s``, ``6m``, ``1h12m`` — durations as a reviewer reads them."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m" if sec < 30 or minutes >= 10 else f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _count(op: Operation) -> str:
    n = len(op.instances)
    return f"{n} instance" + ("" if n == 1 else "s")


class Progress(Protocol):
    """What the executor tells whoever watches. Methods never raise and never see a secret."""

    wants_instance_counts: bool

    def wave_started(self, wave: str, number: int, total: int, operations: int, instances: int) -> None: ...
    def operation_submitted(self, op: Operation, how: str) -> None: ...
    def operation_waiting(self, op: Operation, message: str) -> None: ...
    def operation_polled(self, op: Operation, done: int, total: int, failed: int, eta: float | None) -> None: ...
    def operation_finished(self, op: Operation, outcome: OperationOutcome) -> None: ...
    def gate_polled(self, wave: str, connected: int, expected: int) -> None: ...
    def gate_finished(self, wave: str, result: GateResult) -> None: ...
    def wave_finished(self, result: WaveResult) -> None: ...
    def note(self, message: str) -> None: ...


class PlainProgress:
    """One line per event, for CI logs: ``wave canary: submitted CreateStackInstances clumio-org-…-001 (4 instances)``.
    ``emit`` receives each line (``typer.echo`` in the CLI, a list's ``append`` in tests).

    With ``heartbeat`` (seconds), every running operation and every Clumio gate also prints a line at that steady
    interval — instances done/total, failed, elapsed, ETA — so a wave that runs for half an hour is never silent.
    ``now`` is the run's clock in seconds (``Timing.now``: tests on simulated time see simulated heartbeats); needed
    only with ``heartbeat``.
    """

    def __init__(self, emit: Callable[[str], None], *, heartbeat: float | None = None,
                 now: Callable[[], float] | None = None) -> None:
        self.emit = emit
        self.heartbeat = heartbeat
        self._now = now
        self._beat_last: dict[str, float] = {}  # operation id (or gate:WAVE) → when its last line was printed
        self._beat_started: dict[str, float] = {}

    def _clock(self) -> float:
        if self._now is None:
            raise TypeError("PlainProgress(heartbeat=...) needs now=, the run's clock")
        return self._now()

    @property
    def wants_instance_counts(self) -> bool:
        """True when a running operation is due for its heartbeat: the waiter then reads its results (one paged
        ListStackSetOperationResults per heartbeat, not per poll)."""
        if self.heartbeat is None or not self._beat_last:
            return False
        now = self._clock()
        return any(now - last >= self.heartbeat for last in self._beat_last.values())

    def _track(self, key: str) -> None:
        if self.heartbeat is not None:
            now = self._clock()
            self._beat_last[key] = now
            self._beat_started.setdefault(key, now)

    def _due(self, key: str) -> float | None:
        """Seconds since ``key`` started when its heartbeat is due (and mark it printed), else None."""
        if self.heartbeat is None or key not in self._beat_last:
            return None
        now = self._clock()
        if now - self._beat_last[key] < self.heartbeat:
            return None
        self._beat_last[key] = now
        return now - self._beat_started[key]

    def _untrack(self, key: str) -> None:
        self._beat_last.pop(key, None)
        self._beat_started.pop(key, None)

    @staticmethod
    def _wave(op: Operation) -> str:
        return f"wave {op.wave}" if op.wave else f"stack set {op.stack_set}"

    def wave_started(self, wave: str, number: int, total: int, operations: int, instances: int) -> None:
        self.emit(f"wave {wave} ({number}/{total}): {operations} operation(s), {instances} instance(s)")

    def operation_submitted(self, op: Operation, how: str) -> None:
        self.emit(f"{self._wave(op)}: {how} {op.kind.value} {op.operation_id} ({_count(op)})")
        self._track(op.operation_id)

    def operation_waiting(self, op: Operation, message: str) -> None:
        self.emit(f"{self._wave(op)}: {op.operation_id} {message}")

    def operation_polled(self, op: Operation, done: int, total: int, failed: int, eta: float | None) -> None:
        elapsed = self._due(op.operation_id)
        if elapsed is None:
            return
        pct = f" ({100 * done // total}%)" if total else ""
        line = (f"{self._wave(op)}: {op.kind.value} {op.operation_id} running: {done}/{total} instances done{pct}"
                + (f", {failed} failed" if failed else "") + f", {human_seconds(elapsed)} elapsed"
                + (f", ETA {human_seconds(eta)}" if eta and eta > 0 else ""))
        self.emit(line)

    def operation_finished(self, op: Operation, outcome: OperationOutcome) -> None:
        self._untrack(op.operation_id)
        line = f"{self._wave(op)}: {op.kind.value} {op.operation_id} {outcome.status.value} in " \
               f"{human_seconds(outcome.seconds)}"
        if outcome.failures:
            line += f" ({len(outcome.failures)} failed)"
        self.emit(line)
        for failure in outcome.failures:
            self.emit(f"  failed {failure.account} {failure.region}: {failure.reason}")

    def gate_polled(self, wave: str, connected: int, expected: int) -> None:
        key = f"gate:{wave}"
        if key not in self._beat_last:
            self._track(key)
            return
        elapsed = self._due(key)
        if elapsed is not None:
            self.emit(f"wave {wave}: gate: {connected}/{expected} connected in Clumio, waiting "
                      f"{human_seconds(elapsed)}")

    def gate_finished(self, wave: str, result: GateResult) -> None:
        self._untrack(f"gate:{wave}")
        self.emit(f"wave {wave}: gate: {result.connected}/{result.expected} connected in Clumio"
                  + ("" if result.ok else f", {len(result.missing)} not connected"))
        for miss in result.missing:
            self.emit(f"  not connected {miss.account} {miss.region}: {miss.reason}")

    def wave_finished(self, result: WaveResult) -> None:
        status = "stopped (over failure budget)" if result.over_budget else "done"
        self.emit(f"wave {result.name}: {status} in {human_seconds(result.seconds)}, "
                  f"{result.instances - result.failed_instances}/{result.instances} instances ok")

    def note(self, message: str) -> None:
        self.emit(message)


def summary_lines(result: ApplyResult) -> list[str]:
    """The final table (per wave: operations, instances ok/failed, duration) and the failed accounts with reasons."""
    lines: list[str] = []
    if result.waves:
        header = f"{'wave':<16} {'operations':>10} {'ok':>6} {'failed':>6} {'gate':>9} {'duration':>9}"
        lines += [header, "-" * len(header)]
        for w in result.waves:
            gate = "-" if w.gate is None else f"{w.gate.connected}/{w.gate.expected}"
            lines.append(f"{w.name:<16} {w.operations:>10} {w.instances - w.failed_instances:>6} "
                         f"{w.failed_instances:>6} {gate:>9} {human_seconds(w.seconds):>9}")
    if result.stopped_before:
        lines.append(f"stopped before wave {result.stopped_before}: {result.stop_reason}")
    failures = result.failures
    if failures:
        lines.append(f"failed accounts ({len({f.account for f in failures})}):")
        for f in failures:
            where = f" [{f.stack_set}]" if f.stack_set else ""
            lines.append(f"  {f.account} {f.region}{where}: {f.reason}")
    return lines
