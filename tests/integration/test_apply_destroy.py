"""Removals happen only with --allow-destroy, capped by --max-destroy; without it nothing runs at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import (
    cli,
    demo_config,
    instances,
    no_secret_leaks,  # noqa: F401 - fixture
    operations,
    use_virtual_clock,
)

DEV_ACCOUNTS = {"320000000001", "320000000002", "320000000003", "320000000011", "320000000012"}

pytestmark = pytest.mark.usefixtures("no_secret_leaks")


def test_removals_need_allow_destroy_and_respect_max_destroy(
        sandbox_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_virtual_clock(sandbox_env, monkeypatch)
    config = demo_config(tmp_path)
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    before = len(operations(sandbox_env))
    # Leave the Dev accounts out from now on: 5 active accounts × 3 regions are to be removed. (Excluding the OU
    # /Workloads/Dev instead would also narrow the StackSet's /Workloads target: see test_targets_sandbox.)
    config.write_text(config.read_text().replace(
        "  exclude:\n", "  exclude:\n    accounts: [" + ", ".join(f'"{a}"' for a in sorted(DEV_ACCOUNTS)) + "]\n"))

    refused = cli(capsys, "apply", "-c", str(config), "--auto-approve")
    assert refused.code == 1
    assert "refusing without --allow-destroy" in refused.err and "320000000001" in refused.err
    assert len(operations(sandbox_env)) == before

    capped = cli(capsys, "apply", "-c", str(config), "--auto-approve", "--allow-destroy", "--max-destroy", "3")
    assert capped.code == 1 and "more than --max-destroy 3" in capped.err
    assert len(operations(sandbox_env)) == before

    done = cli(capsys, "apply", "-c", str(config), "--auto-approve", "--allow-destroy", "--max-destroy", "15")
    assert done.code == 0, done.text
    assert "DeleteStackInstances" in done.out
    assert not DEV_ACCOUNTS & {r["Account"] for r in instances(sandbox_env)}


def test_suspended_account_is_removed_with_retain_stacks(
        sandbox_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    use_virtual_clock(sandbox_env, monkeypatch)
    config = demo_config(tmp_path)
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    sandbox_env.world.apply_event("suspend-account", {"account": "310000000001"})
    # Kept (information, no change) by default; one setting away from removal.
    assert cli(capsys, "plan", "-c", str(config), "--detailed-exitcode").code == 0
    config.write_text(config.read_text().replace("targets:\n", "targets:\n  suspended_accounts: remove\n"))

    run = cli(capsys, "apply", "-c", str(config), "--auto-approve", "--allow-destroy")

    assert run.code == 0, run.text
    cfn = sandbox_env.client("cloudformation")
    deletes = [o for o in operations(sandbox_env) if o["Action"] == "DELETE"]
    assert len(deletes) == 1
    described = cfn.describe_stack_set_operation(StackSetName="clumio-org", OperationId=deletes[0]["OperationId"])
    assert described["StackSetOperation"]["RetainStacks"] is True
    assert "310000000001" not in {r["Account"] for r in instances(sandbox_env)}
