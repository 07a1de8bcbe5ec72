"""Backoff, poll intervals, log redaction, failure budgets, the rich display."""

from __future__ import annotations

import io
import logging
import os
import random
from pathlib import Path

from reconciler.apply.executor import failure_budget, group_waves
from reconciler.apply.redact import redacted_logs, remember
from reconciler.apply.timing import Timing
from reconciler.core.desired import Amount, ConcurrencyMode
from reconciler.core.plan import WavePlan
from reconciler.core.secrets import Secret
from reconciler.core.settings import POLL_ENV
from tests.unit.apply.helpers import World, onboarding_plan


def test_backoff_grows_is_capped_and_jittered() -> None:
    timing = Timing(rng=random.Random(1))
    delays = [timing.backoff(n, base=1.0, cap=30.0) for n in range(10)]
    assert delays[0] <= 1.0 and delays[3] >= 4.0
    assert max(delays) <= 30.0 and min(delays[6:]) >= 15.0
    assert len({round(d, 6) for d in delays[6:]}) > 1


def test_poll_interval_comes_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(POLL_ENV, "2.5")
    from reconciler.core.settings import parse_settings

    timing = Timing.from_settings(parse_settings(os.environ))
    intervals = timing.poll_intervals()
    seen = [intervals.next() for _ in range(8)]
    assert seen[0] == 2.5 and seen[1] == 3.75 and max(seen) == 15.0


def test_secret_values_never_reach_a_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        remember(Secret("tok-9f8e7d6c"), "api-token-123456")
        with redacted_logs():
            logging.getLogger("botocore.endpoint").warning("params: %s", {"ParameterValue": "tok-9f8e7d6c"})
            logging.getLogger("x").warning("bearer api-token-123456")
    finally:
        root.removeHandler(handler)
    assert "tok-9f8e7d6c" not in stream.getvalue() and "api-token-123456" not in stream.getvalue()
    assert stream.getvalue().count("****") == 2


def test_failure_budget_resolves_counts_and_percentages_of_the_wave() -> None:
    def wave(tolerance: str, n: int) -> WavePlan:
        return WavePlan(0, "w", tuple(str(i) for i in range(n)), Amount(count=1), Amount.parse(tolerance),
                        ConcurrencyMode.SOFT_FAILURE_TOLERANCE, 1)

    assert failure_budget(wave("0", 10)) == 0
    assert failure_budget(wave("3", 10)) == 3
    assert failure_budget(wave("10%", 45)) == 4
    assert failure_budget(None) == 0


def test_waves_group_consecutive_operations_in_plan_order() -> None:
    groups = group_waves(onboarding_plan().operations)
    assert [(name, len(ops)) for name, ops in groups] == [("stack-set", 1), ("canary", 1), ("rest", 1)]


def test_rich_display_runs_a_whole_apply(tmp_path: Path) -> None:
    from rich.console import Console

    from reconciler.apply.progress_rich import RichProgress

    world = World(tmp_path)
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, width=120))
    executor = world.executor(onboarding_plan())
    executor.runtime.progress = progress  # the one place every step reads progress from
    result = executor.run()
    progress.stop()
    assert result.outcome.value == "succeeded"
    assert "gate: 6/6 connected" in out.getvalue()
