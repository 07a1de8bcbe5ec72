"""Figures printed against their bounds; a benchmark exits non-zero when any bound is missed."""

from __future__ import annotations

import os


class Bounds:
    """Collects each figure checked against its bound, prints one line per check, and gives the exit code.

    With ``quick`` (the benchmarks' ``--quick`` sizes), a bound marked ``full_size`` — a speed-up, a CPU cost per
    instance or a wall ratio, which hold only at the issue's sizes, where the fixed start-up costs are small — is
    printed for information and not judged; every other bound (calls, memory, counts) is judged as always."""

    def __init__(self, quick: bool = False) -> None:
        self.quick = quick
        self.checked: list[str] = []
        self.missed: list[str] = []

    def _record(self, label: str, ok: bool, full_size: bool = False) -> str:
        if self.quick and full_size:
            return f"({'ok' if ok else 'would miss'}; judged at full size only, not in --quick)"
        self.checked.append(label)
        if not ok:
            self.missed.append(label)
        return "ok" if ok else "MISSED"

    def ratio(self, label: str, value: float, reference: float, target: float, unit: str = "", *,
              full_size: bool = False) -> bool:
        """``value / reference ≤ target`` (a cost against its ideal)."""
        ratio = value / reference if reference else float("inf")
        ok = ratio <= target
        verdict = self._record(label, ok, full_size)
        print(f"  {label:<52} {value:>10.2f}{unit} vs {reference:>10.2f}{unit}  ratio {ratio:6.3f} "
              f"(bound ≤ {target}) {verdict}", flush=True)
        return ok

    def at_most(self, label: str, value: float, bound: float, unit: str = "", digits: int = 2, *,
                full_size: bool = False) -> bool:
        ok = value <= bound
        verdict = self._record(label, ok, full_size)
        print(f"  {label:<52} {value:>10.{digits}f}{unit}  (bound ≤ {bound:g}{unit}) {verdict}", flush=True)
        return ok

    def at_least(self, label: str, value: float, bound: float, unit: str = "", digits: int = 2, *,
                 full_size: bool = False) -> bool:
        ok = value >= bound
        verdict = self._record(label, ok, full_size)
        print(f"  {label:<52} {value:>10.{digits}f}{unit}  (bound ≥ {bound:g}{unit}) {verdict}", flush=True)
        return ok

    def equal(self, label: str, value: int, expected: int) -> bool:
        ok = value == expected
        verdict = self._record(label, ok)
        print(f"  {label:<52} {value:>10} (expected {expected}) {verdict}", flush=True)
        return ok

    def exit_code(self) -> int:
        """Print the verdict over every check; 1 when any bound was missed."""
        if self.missed:
            print(f"bounds: {len(self.missed)} of {len(self.checked)} MISSED: {'; '.join(self.missed)}", flush=True)
            return 1
        print(f"bounds: all {len(self.checked)} met", flush=True)
        return 0


def machine_line() -> str:
    """Cores and load: the figures depend on both (the benchmarks share a 2-core machine)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def compiled_as_installed() -> str:
    """The package's byte code written as `pip install clumio-org` writes it at install time, before any process is
    timed. The benchmarks run the editable checkout, where each process would otherwise compile every module of
    ``reconciler`` it imports whenever PYTHONDONTWRITEBYTECODE is set (as on the machines here): ~0.1 s of every
    plan process's CPU that no installed tool spends. Returns the line to print."""
    import compileall
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "reconciler"
    ok = compileall.compile_dir(str(package), quiet=1)
    return f"byte code: {package.name}/ compiled as pip compiles it at install ({'ok' if ok else 'FAILED'})"
