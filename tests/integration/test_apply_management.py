"""The management account is onboarded through the self-managed StackSet, after a preflight of its roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import (
    cli,
    connections,
    demo_config,
    instances,
    no_secret_leaks,  # noqa: F401 - fixture
    operations,
    use_virtual_clock,
)

MANAGEMENT = "100000000001"
ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"

pytestmark = pytest.mark.usefixtures("no_secret_leaks")


@pytest.fixture
def config(sandbox_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_virtual_clock(sandbox_env, monkeypatch)
    path = demo_config(tmp_path)
    path.write_text(path.read_text() + "\nmanagement_account:\n  onboard: true\n")
    return path


def test_management_account_is_onboarded_through_the_self_managed_stack_set(
        sandbox_env: Any, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "apply", "-c", str(config), "--auto-approve")

    assert run.code == 0, run.text
    rows = instances(sandbox_env, "clumio-org-management")
    assert {(r["Account"], r["Status"]) for r in rows} == {(MANAGEMENT, "CURRENT")}
    assert {r["Region"] for r in rows} == {"us-east-1", "us-west-2", "eu-west-1"}
    conns = connections(sandbox_env)
    assert all(conns[(MANAGEMENT, r["Region"])]["connection_status"] == "connected" for r in rows)
    assert len(operations(sandbox_env, "clumio-org-management")) == 1
    assert MANAGEMENT not in {r["Account"] for r in instances(sandbox_env)}  # never via the service-managed set


def test_missing_administration_role_is_refused_with_how_to_create_it(
        sandbox_env: Any, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox_env.world.org.accounts[MANAGEMENT].roles.discard(ADMIN_ROLE)

    run = cli(capsys, "apply", "-c", str(config), "--auto-approve")

    assert run.code == 1
    assert ADMIN_ROLE in run.err and "aws cloudformation create-stack" in run.err
    assert sandbox_env.client("cloudformation").list_stack_sets()["Summaries"] == []
