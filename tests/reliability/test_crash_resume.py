"""SIGKILL an apply at several points — mid-submit, mid-wait, between waves — and re-run it: the run converges with
no duplicate StackSet operation (counted through ListStackSetOperations) and nothing lost.

The apply runs in a subprocess against a sandbox served from this process on a scaled clock; kill points are found by
watching the state file's journal and the sandbox's operations, as an operator would — no crash hooks in product
code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.clumio.client import ClumioClient
from reconciler.sandbox.clock import ScaledClock
from reconciler.state import LocalBackend
from tests.integration.apply_support import demo_config, instances, operations

pytestmark = pytest.mark.slow

TIME_SCALE = 200.0  # a 150-second stack instance takes 0.75 s
WATCH_TIMEOUT = 120.0


class Apply:
    """One `clumio-org apply` subprocess with its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "reconciler", *argv], env=env, stdout=self._fh,
                                     stderr=subprocess.STDOUT)

    def kill_when(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WATCH_TIMEOUT
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"apply ended (exit {self.proc.returncode}) before the kill point:\n"
                                     + self.log.read_text())
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("kill point never reached:\n" + self.log.read_text())
            time.sleep(0.005)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._fh.close()

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=WATCH_TIMEOUT)
        self._fh.close()
        return code, self.log.read_text()


def _journal(state_file: Path) -> dict[str, str]:
    try:
        data = json.loads(state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {e["operation_id"]: e["status"] for e in data.get("journal", [])}


def _running_operations(sandbox: Any) -> set[str]:
    try:
        return {o["OperationId"] for o in operations(sandbox) if o["Status"] == "RUNNING"}
    except Exception:  # the StackSet does not exist yet
        return set()


def _unlock(state_file: Path) -> None:
    backend = LocalBackend(state_file)
    holder = backend.current_lock()
    assert holder is not None, "a killed apply leaves its lock behind"
    backend.unlock(holder.id)


def test_apply_killed_at_several_points_converges_without_duplicate_operations(
        sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = sandbox_factory("demo", clock=ScaledClock(TIME_SCALE))
    # Clumio takes 2 simulated minutes to connect (0.6 s real): a wide enough "between waves" window to kill in.
    sandbox.world.clumio.connect_seconds = 120.0
    config = demo_config(tmp_path)
    state_file = tmp_path / ".clumio-org" / "state.json"
    planfile = tmp_path / "plan.json"
    env = {**os.environ, **sandbox.env(), "CI": "true", "CLUMIO_ORG_POLL_SECONDS": "0.05",
           "CLUMIO_ORG_POLL_MAX_SECONDS": "0.2", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)
    logs: list[Path] = []

    def start(*argv: str) -> Apply:
        logs.append(tmp_path / f"run-{len(logs)}.log")
        return Apply(list(argv), env, logs[-1])

    code, out = start("plan", "-c", str(config), "--out", str(planfile)).finish()
    assert code in (0, 2), out
    plan = json.loads(planfile.read_text())
    ids = [op["operation_id"] for op in plan["operations"]]
    kinds = {op["operation_id"]: op["kind"] for op in plan["operations"]}
    instance_ops = [i for i in ids if kinds[i] != "CreateStackSet"]
    assert len(instance_ops) >= 3, "the demo plan has an operation per wave"
    canary, critical, rest = instance_ops[0], instance_ops[1], instance_ops[-1]

    # 1. mid-submit: the journal says the canary operation is being submitted
    start("apply", str(planfile), "-c", str(config)).kill_when(
        lambda: _journal(state_file).get(canary) in ("SUBMITTED", "RUNNING"))
    code, out = start("apply", str(planfile), "-c", str(config)).finish()
    assert code == 1 and "clumio-org state unlock" in out  # the dead run's lock is reported, never stolen
    _unlock(state_file)

    # 2. mid-wait: AWS runs the critical wave's operation
    run = start("apply", str(planfile), "-c", str(config))
    run.kill_when(lambda: critical in _running_operations(sandbox))
    assert "resuming plan" in logs[-1].read_text()
    _unlock(state_file)

    # 3. between waves: critical done, rest not submitted yet (the Clumio gate is running)
    run = start("apply", str(planfile), "-c", str(config))
    run.kill_when(lambda: _journal(state_file).get(critical) == "SUCCEEDED" and rest not in _journal(state_file))
    _unlock(state_file)

    code, out = start("apply", str(planfile), "-c", str(config)).finish()
    assert code == 0, out
    assert "resuming plan" in out and "because of that apply's own operations" in out

    code, out = start("apply", "-c", str(config), "--auto-approve").finish()
    assert code == 0 and "No changes" in out, out

    # No duplicate operation: exactly one AWS operation per planned step, each under its deterministic id.
    ops = operations(sandbox)
    assert sorted(o["OperationId"] for o in ops) == sorted(instance_ops)
    assert all(o["Status"] == "SUCCEEDED" for o in ops)
    # Nothing lost: every planned (account, region) is CURRENT, connected, and recorded in state.
    planned = {(c["account"], c["region"]) for c in plan["changes"]}
    rows = {(r["Account"], r["Region"]): r["Status"] for r in instances(sandbox)}
    assert set(rows) == planned and set(rows.values()) == {"CURRENT"}
    state = json.loads(state_file.read_text())
    assert {e["status"] for e in state["journal"] if e["operation_id"] in ids} == {"SUCCEEDED"}
    assert {(i["account"], i["region"]) for i in state["instances"]} == planned
    assert state["last_apply"]["outcome"] == "succeeded"

    # …and none of the runs wrote a secret anywhere.
    sandbox_env = sandbox.env()
    monkeypatch.setenv("CLUMIO_API_TOKEN", sandbox_env["CLUMIO_API_TOKEN"])
    params = ClumioClient(sandbox_env["CLUMIO_API_URL"], "CLUMIO_API_TOKEN").org_deployment_parameters(
        "o-demo7k2p9xq4")
    secrets = [sandbox_env["CLUMIO_API_TOKEN"], params.token.reveal(), params.external_id.reveal()]
    for path in [*logs, state_file, planfile]:
        text = path.read_text()
        assert not [s for s in secrets if s in text], path
