"""Ctrl-C in CI (no terminal): apply stops submitting, stops the running StackSet operation, records where it
stopped, releases the lock and exits 130; the next apply finishes the job."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.clock import ScaledClock
from tests.integration.apply_support import demo_config, instances, operations
from tests.reliability.test_crash_resume import TIME_SCALE, Apply, _running_operations

pytestmark = pytest.mark.slow


def test_ctrl_c_stops_the_running_operation_and_the_next_apply_finishes(sandbox_factory: Any,
                                                                         tmp_path: Path) -> None:
    sandbox = sandbox_factory("demo", clock=ScaledClock(TIME_SCALE))
    config = demo_config(tmp_path)
    state_file = tmp_path / ".clumio-org" / "state.json"
    env = {**os.environ, **sandbox.env(), "CI": "true", "CLUMIO_ORG_POLL_SECONDS": "0.05",
           "CLUMIO_ORG_POLL_MAX_SECONDS": "0.2", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    run = Apply(["apply", "-c", str(config), "--auto-approve"], env, tmp_path / "interrupted.log")
    deadline = time.monotonic() + 120
    while not _running_operations(sandbox):
        assert run.proc.poll() is None and time.monotonic() < deadline, run.log.read_text()
        time.sleep(0.005)
    running = _running_operations(sandbox).pop()
    run.proc.send_signal(signal.SIGINT)
    code, out = run.finish()

    assert code == 130, out
    assert f"stopping {running} (StopStackSetOperation)" in out
    assert {o["OperationId"]: o["Status"] for o in operations(sandbox)}[running] in ("STOPPING", "STOPPED")
    state = json.loads(state_file.read_text())
    assert {e["operation_id"]: e["status"] for e in state["journal"]}[running] == "STOPPED"
    assert state["last_apply"]["outcome"] == "interrupted"
    assert not (state_file.parent / "state.json.lock").exists()

    code, out = Apply(["apply", "-c", str(config), "--auto-approve"], env, tmp_path / "again.log").finish()
    assert code == 0, out
    assert all(r["Status"] == "CURRENT" for r in instances(sandbox))
