"""The live terminal display of an apply: wave, operation, instances done/total, failures, ETA (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from reconciler.apply.model import GateResult, OperationOutcome, WaveResult
from reconciler.apply.progress import PlainProgress, human_seconds
from reconciler.core.plan import Operation


class RichProgress(PlainProgress):
    """Event lines printed above a live bar per operation and per gate; the bars show done/total and an ETA."""

    wants_instance_counts = True

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        super().__init__(lambda line: self.console.print(line, markup=False, highlight=False))
        self._bars = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), console=self.console,
                              transient=True)
        self._tasks: dict[str, Any] = {}
        self._started = False

    def _ensure(self) -> None:
        if not self._started:
            self._bars.start()
            self._started = True

    def stop(self) -> None:
        if self._started:
            self._bars.stop()
            self._started = False

    def operation_submitted(self, op: Operation, how: str) -> None:
        super().operation_submitted(op, how)
        self._ensure()
        label = f"{op.wave or op.stack_set} · {op.kind.value}"
        self._tasks[op.operation_id] = self._bars.add_task(label, total=max(1, len(op.instances)), extra="")

    def operation_polled(self, op: Operation, done: int, total: int, failed: int, eta: float | None) -> None:
        task = self._tasks.get(op.operation_id)
        if task is None:
            return
        extra = (f"[{failed} failed] " if failed else "") + (f"ETA {human_seconds(eta)}" if eta else "")
        self._bars.update(task, completed=done, total=max(1, total), extra=extra)

    def operation_finished(self, op: Operation, outcome: OperationOutcome) -> None:
        task = self._tasks.pop(op.operation_id, None)
        if task is not None:
            self._bars.remove_task(task)
        super().operation_finished(op, outcome)

    def gate_polled(self, wave: str, connected: int, expected: int) -> None:
        self._ensure()
        key = f"gate:{wave}"
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(f"{wave} · Clumio connected", total=expected, extra="")
        self._bars.update(self._tasks[key], completed=connected, total=expected)

    def gate_finished(self, wave: str, result: GateResult) -> None:
        task = self._tasks.pop(f"gate:{wave}", None)
        if task is not None:
            self._bars.remove_task(task)
        super().gate_finished(wave, result)

    def wave_finished(self, result: WaveResult) -> None:
        super().wave_finished(result)
