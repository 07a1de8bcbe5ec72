"""`clumio-org sandbox start --detach / env / status / event / stop`, run as a user runs them.

The detached sandbox is always a real background process. The first test drives the whole life cycle through the
console entry point in subprocesses; the others call the CLI's ``main`` in-process (same parsing, same exit codes),
which keeps this file fast on a busy machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import boto3
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cli:
    """``clumio-org sandbox ARGS`` in a subprocess."""

    def __init__(self, directory: Path) -> None:
        self.env = {**os.environ, "CLUMIO_ORG_SANDBOX_DIR": str(directory)}

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", "sandbox", *args], env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)


class InProcessCli:
    """``clumio-org sandbox ARGS`` through the CLI's ``main`` in this process; returns the same triple."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        from reconciler.cli.app import main

        self.capsys.readouterr()
        code = main(["sandbox", *args])
        out, err = self.capsys.readouterr()
        return subprocess.CompletedProcess(["clumio-org", "sandbox", *args], code, out, err)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path / "sandbox-runtime")
    yield runner
    _stop_quietly(tmp_path / "sandbox-runtime")  # never leave a background sandbox behind a failed test


def _stop_quietly(directory: Path) -> None:
    from reconciler.core.errors import ReconcilerError
    from reconciler.sandbox import runtime

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(runtime.DIR_ENV, str(directory))
        with contextlib.suppress(ReconcilerError):
            runtime.stop()


@pytest.fixture
def local_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessCli]:
    monkeypatch.setenv("CLUMIO_ORG_SANDBOX_DIR", str(tmp_path / "sandbox-runtime"))
    yield InProcessCli(capsys)
    _stop_quietly(tmp_path / "sandbox-runtime")


def test_detached_sandbox_is_started_used_and_stopped(cli: Cli, local_cli: InProcessCli, tmp_path: Path) -> None:
    port = _free_port()
    started = cli("start", "--detach", "--port", str(port), "--time-scale", "1000")
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}" in started.stdout
    assert (tmp_path / "sandbox-runtime" / "sandbox.json").is_file()

    exports = local_cli("env")
    assert exports.returncode == 0
    env = dict(line.removeprefix("export ").split("=", 1) for line in exports.stdout.splitlines())
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    assert env["CLUMIO_API_URL"] == f"http://127.0.0.1:{port}/clumio"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION",
            "CLUMIO_API_TOKEN"} <= set(env)
    assert json.loads(local_cli("env", "--format", "json").stdout) == env

    status = local_cli("status", "--format", "json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["world"]["organization"]["id"] == "o-demo7k2p9xq4"
    assert "o-demo7k2p9xq4" in local_cli("status").stdout

    moved = local_cli("event", "move-account", "account=300000000001", "ou=/Sandbox")
    aliased = local_cli("move-account", "300000000002", "/Sandbox")
    assert moved.returncode == 0 and aliased.returncode == 0, moved.stderr + aliased.stderr
    organizations = boto3.client("organizations", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                 aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    for account in ("300000000001", "300000000002"):
        parent = organizations.list_parents(ChildId=account)["Parents"][0]["Id"]
        name = organizations.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]["Name"]
        assert name == "Sandbox"

    before = json.loads(local_cli("status", "--format", "json").stdout)["world"]["now"]
    advanced = local_cli("advance", "3600")
    assert advanced.returncode == 0 and "sandbox time is now" in advanced.stdout
    after_advance = json.loads(local_cli("status", "--format", "json").stdout)["world"]["now"]
    skipped = datetime.fromisoformat(after_advance) - datetime.fromisoformat(before)
    assert skipped.total_seconds() >= 3600

    again = local_cli("start", "--detach", "--port", str(_free_port()))
    assert again.returncode == 1
    assert "already running" in again.stderr

    stopped = cli("stop")
    assert stopped.returncode == 0
    after = local_cli("status")
    assert after.returncode == 1
    assert "error: no sandbox is running" in after.stderr and "hint:" in after.stderr
    assert "Traceback" not in after.stderr


def test_bad_event_is_a_user_error(local_cli: InProcessCli) -> None:
    cli = local_cli
    assert cli("start", "--detach", "--port", "0").returncode == 0
    bad = cli("event", "move-account", "account=000000000000", "ou=/Sandbox")
    malformed = cli("event", "move-account", "account")
    assert bad.returncode == 1 and bad.stderr.startswith("error:")
    assert malformed.returncode == 1 and "KEY=VALUE" in malformed.stderr


@pytest.mark.parametrize("detach", [True, False])
def test_port_in_use_is_reported_with_a_hint(local_cli: InProcessCli, detach: bool) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = local_cli("start", *(["--detach"] if detach else []), "--port", str(port))
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_bad_world_file_is_reported_without_a_traceback(local_cli: InProcessCli, tmp_path: Path) -> None:
    cli = local_cli
    broken = tmp_path / "world.yaml"
    broken.write_text("organization: {id: not-an-org-id}\nous: 3\n")
    for args in (("start", "--world", str(broken), "--port", "0"),
                 ("start", "--detach", "--world", str(broken), "--port", "0"),
                 ("start", "--world", str(tmp_path / "missing.yaml"), "--port", "0")):
        result = cli(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_commands_without_a_sandbox_say_how_to_start_one(local_cli: InProcessCli) -> None:
    cli = local_cli
    for args in (("env",), ("status",), ("stop",), ("event", "suspend-account", "account=300000000001")):
        result = cli(*args)
        assert result.returncode == 1
        assert "no sandbox is running" in result.stderr
        assert "sandbox start" in result.stderr


@pytest.mark.parametrize("how", ["stop", "ctrl-c"])
def test_foreground_sandbox_serves_until_stopped_or_interrupted(cli: Cli, local_cli: InProcessCli, tmp_path: Path,
                                                                how: str) -> None:
    import signal
    import time

    runtime_file = tmp_path / "sandbox-runtime" / "sandbox.json"
    server = subprocess.Popen([sys.executable, "-m", "reconciler", "sandbox", "start", "--port", "0"], env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not runtime_file.is_file() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
        record = json.loads(runtime_file.read_text())
        assert record["pid"] == server.pid
        identity = boto3.client("sts", endpoint_url=record["aws_url"], region_name="us-east-1",
                                aws_access_key_id="sandbox", aws_secret_access_key="sandbox").get_caller_identity()
        assert identity["Account"] == "100000000001"
        if how == "stop":
            assert local_cli("stop").returncode == 0
        else:
            server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "export AWS_ENDPOINT_URL=" in out and "Traceback" not in err
    assert not runtime_file.exists()


def test_event_arguments_keep_account_ids_as_text_and_type_the_rest() -> None:
    from reconciler.cli.sandbox import parse_event_args

    args = parse_event_args(["account=012345678901", "throttle-rate=0.25", "failing_accounts={\"1\": \"x\"}",
                             "ou=/Workloads/Prod", "enabled=true"])
    assert args == {"account": "012345678901", "throttle_rate": 0.25, "failing_accounts": {"1": "x"},
                    "ou": "/Workloads/Prod", "enabled": True}
