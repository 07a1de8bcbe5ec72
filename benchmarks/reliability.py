"""Reliability figures: applies that meet expired AWS credentials, a revoked Clumio token, a failing S3 state
backend, or Ctrl-C right after a submit — each at many moments of the run — and whether the next run converged.

For every trial, on a fresh demo world (31 accounts × 3 regions, three waves): `plan --out`, then `apply PLANFILE`
with the fault injected at the k-th sleep of the run (a different moment each trial), then the same `apply PLANFILE`
again until it exits 0. A trial converges when AWS holds exactly one operation per planned step (no duplicate, all
SUCCEEDED), every planned (account, region) is CURRENT (none lost), and `plan --detailed-exitcode` exits 0.
The Ctrl-C trials run apply in a subprocess and send SIGINT the moment the journal shows the operation submitted;
they count operations Ctrl-C left running (the issue saw 4 of 18).

Prints each figure against its bound (every trial converges; none left running) and exits 1 when one is missed.
Run from the repository root:  python benchmarks/reliability.py [--quick] [--trials 12] [--ctrl-c 18] [--s3-trials 4]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.cli.app import main  # noqa: E402
from reconciler.sandbox import worldfile  # noqa: E402
from reconciler.sandbox.clock import ScaledClock, VirtualClock  # noqa: E402
from reconciler.sandbox.server import RunningSandbox, start_in_thread  # noqa: E402
from reconciler.sandbox.world import World  # noqa: E402

DEMO_CONFIG = ROOT / "examples" / "demo.yaml"
SPEC = worldfile.load_world_spec(worldfile.default_world_path())
Fault = Callable[[RunningSandbox], None]


def cli(*argv: str, clock: Any = None) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(argv), clock=clock)


@dataclass
class Sleeping:
    """The sandbox's virtual time with the benchmark's sleeper (which injects the fault on its n-th sleep)."""

    clock: VirtualClock
    sleep: Callable[[float], None]

    def now(self) -> datetime:
        return self.clock.now()


def _operations(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    cfn = sandbox.client("cloudformation")
    try:
        return [o for page in cfn.get_paginator("list_stack_set_operations").paginate(StackSetName="clumio-org")
                for o in page["Summaries"]]
    except Exception:  # no StackSet yet
        return []


def _instances(sandbox: RunningSandbox) -> dict[tuple[str, str], str]:
    cfn = sandbox.client("cloudformation")
    return {(r["Account"], r["Region"]): r["Status"]
            for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName="clumio-org")
            for r in page["Summaries"]}


class Trial:
    """One fresh demo world on a VirtualClock, the CLI pointed at it in process."""

    def __init__(self, workdir: Path, *, s3_state: bool = False) -> None:
        self.clock = VirtualClock()
        self.sandbox = start_in_thread(World(copy.deepcopy(SPEC), self.clock))
        os.environ.update(self.sandbox.env())
        self.config = workdir / "clumio-org.yaml"
        text = DEMO_CONFIG.read_text()
        if s3_state:
            self.sandbox.client("s3").create_bucket(Bucket="team-state")
            text = text[:text.index("state:")] + "state:\n  backend: s3\n  bucket: team-state\n  key: state.json\n"
        self.config.write_text(text)
        self.planfile = workdir / "plan.json"
        self.sleeps = 0

    def run(self, fault_at: int, fault: Fault, heal: Fault) -> tuple[bool, int, str]:
        """(converged, runs it took, what went wrong)."""
        assert cli("plan", "-c", str(self.config), "--out", str(self.planfile)) == 0
        plan = json.loads(self.planfile.read_text())
        fired = []

        def sleep(seconds: float) -> None:
            self.sleeps += 1
            if not fired and self.sleeps >= fault_at:
                fired.append(True)
                fault(self.sandbox)
            self.clock.advance(seconds)

        clock = Sleeping(self.clock, sleep)
        codes = [cli("apply", str(self.planfile), "-c", str(self.config), clock=clock)]
        heal(self.sandbox)
        while codes[-1] != 0 and len(codes) < 4:
            codes.append(cli("apply", str(self.planfile), "-c", str(self.config), clock=clock))
        steps = sorted(op["operation_id"] for op in plan["operations"] if op["kind"] != "CreateStackSet")
        ops = _operations(self.sandbox)
        rows = _instances(self.sandbox)
        wanted = {(c["account"], c["region"]) for c in plan["changes"]}
        problems = []
        if codes[0] not in (0, 4) or codes[-1] != 0:
            problems.append(f"exit codes {codes}")
        if sorted(o["OperationId"] for o in ops) != steps or {o["Status"] for o in ops} != {"SUCCEEDED"}:
            problems.append(f"operations {sorted((o['OperationId'][-3:], o['Status']) for o in ops)}")
        if set(rows) != wanted or set(rows.values()) != {"CURRENT"}:
            problems.append(f"{len(wanted - set(rows))} instances lost")
        if cli("plan", "-c", str(self.config), "--detailed-exitcode") != 0:
            problems.append("plan after apply is not empty")
        return not problems, len(codes), "; ".join(problems)

    def close(self) -> None:
        self.sandbox.stop()


def _one(at: int, fault: Fault, heal: Fault, s3_state: bool) -> tuple[bool, int, str, int]:
    workdir = Path(tempfile.mkdtemp(prefix="clumio-org-reliability-"))
    trial = Trial(workdir, s3_state=s3_state)
    try:
        ok, count, why = trial.run(at, fault, heal)
        return ok, count, why, trial.sleeps
    finally:
        trial.close()
        shutil.rmtree(workdir, ignore_errors=True)


def series(name: str, trials: int, fault: Fault, heal: Fault, *, s3_state: bool = False) -> bool:
    """``trials`` fault moments spread evenly over the sleeps of an undisturbed apply (measured first)."""
    _, _, _, total = _one(10**9, fault, heal, s3_state)
    converged, runs, stopped = 0, [], 0
    for k in range(trials):
        at = 1 + k * max(total - 1, 1) // max(trials, 1)
        ok, count, why, _ = _one(at, fault, heal, s3_state)
        converged += ok
        runs.append(count)
        stopped += count > 1
        if not ok:
            print(f"    trial {k + 1} (fault at sleep {at} of {total}): {why}")
    print(f"  {name}: {converged}/{trials} converged (bound: all), {stopped} stopped with exit 4 and resumed, "
          f"at most {max(runs)} runs, 0 duplicate operations and 0 lost instances in the converged ones")
    return converged == trials


def expire(sandbox: RunningSandbox) -> None:
    sandbox.world.apply_event("expire-credentials", {})


def renew(sandbox: RunningSandbox) -> None:
    sandbox.world.apply_event("renew-credentials", {})


def revoke(sandbox: RunningSandbox) -> None:
    sandbox.world.apply_event("revoke-clumio-token", {"new_token": "rotated-token"})
    os.environ["CLUMIO_API_TOKEN"] = "rotated-token"  # the next run's CI job has the new token


def _restore_token(sandbox: RunningSandbox) -> None:
    """Nothing to heal in the world: the next run uses the new token (set by ``revoke``)."""


def s3_down(sandbox: RunningSandbox) -> None:
    sandbox.world.apply_event("s3-fault", {"key": "state.json", "methods": ["PUT"], "code": "ServiceUnavailable"})


def s3_up(sandbox: RunningSandbox) -> None:
    sandbox.world.apply_event("s3-fault", {"clear": True})


def _received(sandbox: RunningSandbox) -> str | None:
    """The first operation the sandbox has taken (read in process, so the moment is the server's, not a poll's)."""
    with sandbox.world.lock:
        for stack_set in sandbox.world.engine.all():
            if stack_set.operations:
                return next(iter(stack_set.operations))
    return None


def ctrl_c_after_submit(tries: int) -> bool:
    """SIGINT right after the canary operation's submit — alternately the moment the journal shows it SUBMITTED (the
    call about to leave or in flight) and the moment the sandbox has taken it (the answer on its way back): the
    operation must end STOPPED, or never reach AWS; never keep running."""
    left_running = 0
    outcomes: dict[str, int] = {}
    for attempt in range(tries):
        workdir = Path(tempfile.mkdtemp(prefix="clumio-org-ctrlc-"))
        sandbox = start_in_thread(World(copy.deepcopy(SPEC), ScaledClock(200.0)))
        try:
            config = workdir / "clumio-org.yaml"
            shutil.copy(DEMO_CONFIG, config)
            env = {**os.environ, **sandbox.env(), "CI": "true", "CLUMIO_ORG_POLL_SECONDS": "0.05",
                   "CLUMIO_ORG_POLL_MAX_SECONDS": "0.2"}
            state = workdir / ".clumio-org" / "state.json"
            proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-c", str(config),
                                     "--auto-approve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            target = None
            deadline = time.monotonic() + 120
            while target is None and proc.poll() is None and time.monotonic() < deadline:
                if attempt % 2:
                    target = _received(sandbox)
                else:
                    try:
                        journal = json.loads(state.read_text()).get("journal", [])
                    except (OSError, ValueError):
                        journal = []
                    target = next((e["operation_id"] for e in journal if e["kind"] == "CreateStackInstances"), None)
                if target is None:
                    time.sleep(0.0005)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
            status = {o["OperationId"]: o["Status"] for o in _operations(sandbox)}.get(target or "", "never sent")
            outcomes[status] = outcomes.get(status, 0) + 1
            left_running += status in ("RUNNING", "SUCCEEDED", "QUEUED")
        finally:
            sandbox.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    detail = ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items()))
    print(f"  Ctrl-C right after a submit: {left_running}/{tries} operations left running (bound: 0) — {detail}")
    return left_running == 0


def run(trials: int, ctrl_c: int, s3_trials: int) -> int:
    saved = dict(os.environ)
    os.environ.update({"CI": "true", "CLUMIO_ORG_POLL_SECONDS": "10", "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    started = time.monotonic()
    try:
        print(f"reliability on the demo world, {trials} fault moments per series:")
        ok = series("AWS credentials expire mid-run (ExpiredToken)", trials, expire, renew)
        ok &= series("Clumio API token revoked mid-run (HTTP 401)", trials, revoke, _restore_token)
        ok &= series("S3 state backend down mid-run (503 on every journal write)", s3_trials, s3_down, s3_up,
                     s3_state=True)
        if ctrl_c:
            ok &= ctrl_c_after_submit(ctrl_c)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 trials, 3 Ctrl-C, 1 S3 trial")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--ctrl-c", type=int)
    parser.add_argument("--s3-trials", type=int)
    args = parser.parse_args()
    sys.exit(run(args.trials or (3 if args.quick else 12), args.ctrl_c or (3 if args.quick else 18),
                 args.s3_trials or (1 if args.quick else 4)))
