"""The AWS + Clumio endpoint (the sandbox server) goes away mid-apply and comes back: the apply stops with exit 4
once retries are spent, keeping its journal, and the next apply of the same plan file resumes and converges —
exactly one AWS operation per planned step, every planned instance CURRENT."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.clock import ScaledClock
from reconciler.sandbox.server import start_in_thread
from tests.integration.apply_support import demo_config, instances, operations
from tests.reliability.test_crash_resume import TIME_SCALE, Apply, _running_operations

pytestmark = pytest.mark.slow

GONE_TIMEOUT = 300.0  # botocore's and urllib3's retries with backoff before the run gives up


def test_endpoint_killed_mid_apply_and_restarted_resumes_and_converges(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory("demo", clock=ScaledClock(TIME_SCALE))
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    env = {**os.environ, **sandbox.env(), "CI": "true", "CLUMIO_ORG_POLL_SECONDS": "0.05",
           "CLUMIO_ORG_POLL_MAX_SECONDS": "0.2", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)
    code, out = Apply(["plan", "-c", str(config), "--out", str(planfile)], env, tmp_path / "plan.log").finish()
    assert code == 0, out
    plan = json.loads(planfile.read_text())
    steps = sorted(op["operation_id"] for op in plan["operations"] if op["kind"] != "CreateStackSet")
    critical = steps[1]

    run = Apply(["apply", str(planfile), "-c", str(config)], env, tmp_path / "gone.log")
    deadline = time.monotonic() + 120
    while critical not in _running_operations(sandbox):
        assert run.proc.poll() is None and time.monotonic() < deadline, run.log.read_text()
        time.sleep(0.01)
    world, port = sandbox.world, sandbox.port
    sandbox.kill()  # the endpoint vanishes while AWS "runs" the critical wave
    gone = time.monotonic()
    code = run.proc.wait(timeout=GONE_TIMEOUT)
    stopped_after = time.monotonic() - gone
    out = run.log.read_text()
    assert code == 4, out
    assert "Apply stopped (exit 4): cannot reach the" in out and "resume: nothing is lost" in out
    print(f"endpoint gone: apply exited 4 after {stopped_after:.1f} s of retries")

    back = start_in_thread(world, port=port)  # the endpoint comes back, same world, same port
    try:
        code, out = Apply(["apply", str(planfile), "-c", str(config)], env, tmp_path / "resume.log").finish()
        assert code == 0, out
        assert "resuming plan" in out
        ops = operations(back)
        assert sorted(o["OperationId"] for o in ops) == steps
        assert {o["Status"] for o in ops} == {"SUCCEEDED"}
        rows = {(r["Account"], r["Region"]): r["Status"] for r in instances(back)}
        assert set(rows) == {(c["account"], c["region"]) for c in plan["changes"]}
        assert set(rows.values()) == {"CURRENT"}
    finally:
        back.stop()
