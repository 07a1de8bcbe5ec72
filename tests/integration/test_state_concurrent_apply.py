"""Two applies of the demo config sharing S3 state on the sandbox: exactly one runs; the other exits 1 naming the
holder; a CI-cancelled (SIGTERM) apply releases its lock on the way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.app import main
from reconciler.sandbox.clock import ScaledClock
from reconciler.state.s3 import S3Backend

BUCKET = "northwind-clumio-state"
KEY = "clumio-org/state.json"
pytestmark = pytest.mark.slow  # a real apply in a subprocess: ~10 s

TIME_SCALE = 20.0  # slow enough that the first apply is still running when the second one starts


def s3_demo_config(tmp_path: Path) -> Path:
    text = (files("reconciler.examples") / "demo.yaml").read_text()
    head, _, _ = text.partition("\nstate:\n")
    config = tmp_path / "clumio-org.yaml"
    config.write_text(f"{head}\nstate:\n  backend: s3\n  bucket: {BUCKET}\n  key: {KEY}\n")
    return config


def wait_for(condition: Any, proc: subprocess.Popen[str], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the first apply ended (exit {proc.returncode}) too early:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the first apply never took the lock:\n{log.read_text()}")
        time.sleep(0.02)


def test_a_second_apply_is_refused_while_the_first_holds_the_s3_lock(
        sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = sandbox_factory("demo", clock=ScaledClock(TIME_SCALE))
    sandbox.client("s3").create_bucket(Bucket=BUCKET)
    config = s3_demo_config(tmp_path)
    env = {**os.environ, **sandbox.env(), "CI": "true", "CLUMIO_ORG_POLL_SECONDS": "0.05",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_EC2_METADATA_DISABLED": "true", "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "northwind/platform", "GITHUB_RUN_ID": "1001"}
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_RUN_ID", "1002")  # the second apply is another CI run

    log = tmp_path / "first-apply.log"
    with log.open("w") as out:
        first = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-c", str(config)],
                                 env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    backend = S3Backend(BUCKET, KEY, "us-east-1")
    try:
        wait_for(lambda: backend.current_lock() is not None, first, log)

        code = main(["apply", "--auto-approve", "-c", str(config)])
        err = capsys.readouterr().err
        assert code == 1
        holder = backend.current_lock()
        assert holder is not None and holder.pid == first.pid
        assert f"pid {first.pid}" in err and "https://github.com/northwind/platform/actions/runs/1001" in err
        assert f"for `clumio-org apply --auto-approve -c {config}`" in err  # why: the holder's command line
        assert f"clumio-org state unlock {holder.id}" in err
        assert "Traceback" not in err
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)  # what a CI runner does when a job is cancelled
        first.wait(timeout=60)

    assert backend.current_lock() is None, "a SIGTERMed apply must release its lock:\n" + log.read_text()
