"""No secret ever leaves apply: every output, plan file, state file and log of a full plan/apply cycle (with a
failing account, a plan file, a credential rotation and --debug logging) is scanned for the sandbox's ClumioToken,
RoleExternalId and Clumio API token values."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.clumio.client import ClumioClient
from tests.integration.apply_support import cli, demo_config, use_virtual_clock


def _secret_values(sandbox: Any) -> dict[str, str]:
    env = sandbox.env()
    client = ClumioClient(env["CLUMIO_API_URL"], "CLUMIO_API_TOKEN")
    params = client.org_deployment_parameters("o-demo7k2p9xq4")
    values = {"ClumioToken": params.token.reveal(), "RoleExternalId": params.external_id.reveal(),
              "API token": env["CLUMIO_API_TOKEN"]}
    assert all(len(v) >= 8 for v in values.values())  # long enough that a hit is not a coincidence
    return values


def test_no_output_plan_state_or_log_contains_a_secret(
        sandbox_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    use_virtual_clock(sandbox_env, monkeypatch)
    caplog.set_level(logging.DEBUG)
    config = demo_config(tmp_path)
    planfile = tmp_path / "plan.json"
    outputs: list[str] = []

    def run(*argv: str) -> int:
        result = cli(capsys, *argv)
        outputs.append(result.text)
        return result.code

    sandbox_env.world.apply_event("fail-account", {"account": "400000000002"})
    assert run("--debug", "plan", "-c", str(config), "--out", str(planfile)) in (0, 2)
    assert run("--debug", "apply", str(planfile), "-c", str(config)) == 3
    sandbox_env.world.apply_event("heal-account", {"account": "400000000002"})
    assert run("--debug", "apply", "-c", str(config), "--auto-approve") == 0
    # a definition change (a tag) sent with fresh NoEcho values: UpdateStackSet carries the secrets this time
    config.write_text(config.read_text().replace("owner: platform-backup", "owner: platform-team"))
    assert run("--debug", "apply", "-c", str(config), "--auto-approve", "--rotate-credentials") == 0
    assert "UpdateStackSet" in outputs[-1]
    assert run("state", "show", "-c", str(config)) in (0, 1)

    secrets = _secret_values(sandbox_env)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "state.json" for p in files) and planfile in files
    haystacks = {f"output #{i}": text for i, text in enumerate(outputs)}
    haystacks["log"] = caplog.text
    haystacks.update({str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in files})
    leaks = [(name, where) for where, text in haystacks.items() for name, value in secrets.items() if value in text]
    assert leaks == []
