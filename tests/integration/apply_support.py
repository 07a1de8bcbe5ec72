"""Shared pieces of the apply integration tests: run the CLI in-process against the sandbox on its VirtualClock,
with apply's sleeper advancing that clock instead of sleeping."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.app import main

DEMO_CONFIG = Path(str(files("reconciler.examples") / "demo.yaml"))
STACK_SET = "clumio-org"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


# The clock `cli` hands to `main` in this test (None: the system clock); set by use_virtual_clock / sleeping_with.
RUN_CLOCK: Any = None


@dataclass
class Sleeping:
    """The sandbox's clock with a test's own sleeper (one that fires an event, or kills the run, on a sleep)."""

    clock: Any
    sleep: Any

    def now(self) -> Any:
        return self.clock.now()


def sleeping_with(monkeypatch: pytest.MonkeyPatch, clock: Any, sleep: Any) -> None:
    """From now on in this test, the runs `cli` makes sleep with ``sleep`` on ``clock``'s time."""
    monkeypatch.setattr(sys.modules[__name__], "RUN_CLOCK", Sleeping(clock, sleep))


def use_virtual_clock(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs `cli` makes sleep by advancing the sandbox's VirtualClock; their bounds are measured on it too."""
    monkeypatch.setattr(sys.modules[__name__], "RUN_CLOCK", sandbox.world.clock)
    monkeypatch.setenv("CI", "true")  # plain lines, no prompts: the tests read the log like a CI user would
    monkeypatch.setenv("CLUMIO_ORG_POLL_SECONDS", "10")


def demo_config(tmp_path: Path) -> Path:
    config = tmp_path / "clumio-org.yaml"
    shutil.copy(DEMO_CONFIG, config)
    return config


# Every output of `cli` in the current test, for the secret scan of `no_secret_leaks`.
OUTPUTS: list[str] = []


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    code = main(list(argv), clock=RUN_CLOCK)
    captured = capsys.readouterr()
    OUTPUTS.append(captured.out + captured.err)
    return Run(code, captured.out, captured.err)


def secret_values(sandbox: Any, org_id: str = "o-demo7k2p9xq4") -> dict[str, str]:
    """The sandbox's ClumioToken, RoleExternalId and Clumio API token, as a leak would show them."""
    from reconciler.core.secrets import Secret
    from reconciler.providers.clumio.client import ClumioClient

    env = sandbox.env()
    old = os.environ.get("CLUMIO_API_TOKEN")
    os.environ["CLUMIO_API_TOKEN"] = env["CLUMIO_API_TOKEN"]
    try:
        params = ClumioClient(env["CLUMIO_API_URL"], "CLUMIO_API_TOKEN").org_deployment_parameters(org_id)
    finally:
        if old is None:
            os.environ.pop("CLUMIO_API_TOKEN", None)
        else:
            os.environ["CLUMIO_API_TOKEN"] = old
    values = {"ClumioToken": params.token, "RoleExternalId": params.external_id}
    found = {name: value.reveal() for name, value in values.items() if isinstance(value, Secret)}
    found["API token"] = env["CLUMIO_API_TOKEN"]
    return found


@pytest.fixture
def no_secret_leaks(sandbox: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Any:
    """After the test: no output, file under tmp_path (plan, state, logs) or log record holds a secret value."""
    OUTPUTS.clear()
    yield
    secrets = secret_values(sandbox)
    texts = {f"output #{i}": text for i, text in enumerate(OUTPUTS)}
    texts["log"] = caplog.text
    texts.update({str(p): p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()})
    leaks = [(name, where) for where, text in texts.items() for name, value in secrets.items() if value in text]
    assert leaks == [], f"secret values leaked: {leaks}"


def instances(sandbox: Any, stack_set: str = STACK_SET) -> list[dict[str, Any]]:
    cfn = sandbox.client("cloudformation")
    rows: list[dict[str, Any]] = []
    for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=stack_set):
        rows.extend(page["Summaries"])
    return rows


def operations(sandbox: Any, stack_set: str = STACK_SET) -> list[dict[str, Any]]:
    cfn = sandbox.client("cloudformation")
    rows: list[dict[str, Any]] = []
    for page in cfn.get_paginator("list_stack_set_operations").paginate(StackSetName=stack_set):
        rows.extend(page["Summaries"])
    return rows


def connections(sandbox: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every Clumio connection the sandbox's API lists (following `_next`)."""
    import requests

    env = sandbox.env()
    url = env["CLUMIO_API_URL"].rstrip("/") + "/connections/aws"
    headers = {"Authorization": f"Bearer {env['CLUMIO_API_TOKEN']}",
               "Accept": "application/api.clumio.aws-connections=v1+json"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 100}
    while True:
        body = requests.get(url, headers=headers, params=params, timeout=10).json()
        for item in body.get("_embedded", {}).get("items", []):
            found[(item["account_native_id"], item["aws_region"])] = item
        nxt = body.get("_links", {}).get("_next")
        if not nxt:
            return found
        from urllib.parse import parse_qs, urlparse

        params = {"limit": 100, "start": parse_qs(urlparse(nxt["href"]).query)["start"][0]}


def state_of(config: Path) -> dict[str, Any]:
    return json.loads((config.parent / ".clumio-org" / "state.json").read_text())
