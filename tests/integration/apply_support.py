"""Shared pieces of the apply integration tests: run the CLI in-process against the sandbox on its VirtualClock,
with apply's sleeper advancing that clock instead of sleeping."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import reconciler.apply.timing as apply_timing
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


def use_virtual_clock(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """apply's sleeps advance the sandbox's VirtualClock; its bounds are measured on that clock too."""
    clock = sandbox.world.clock
    monkeypatch.setattr(apply_timing, "default_sleep", lambda seconds: clock.advance(seconds))
    monkeypatch.setattr(apply_timing, "default_now", lambda: clock.now().timestamp())
    monkeypatch.setenv("CI", "true")  # plain lines, no prompts: the tests read the log like a CI user would
    monkeypatch.setenv("CLUMIO_ORG_POLL_SECONDS", "10")


def demo_config(tmp_path: Path) -> Path:
    config = tmp_path / "clumio-org.yaml"
    shutil.copy(DEMO_CONFIG, config)
    return config


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


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
