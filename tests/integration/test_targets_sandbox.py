"""End to end on the sandbox: after apply, plan --detailed-exitcode and drift exit 0 and stay 0 while accounts
join, move, leave, are suspended or closed — with no instance in an excluded account unless the config accepts the
leak, and no StackSet operation beyond what the plan listed (issue #17, "Must show")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import (
    Run,
    cli,
    demo_config,
    instances,
    no_secret_leaks,  # noqa: F401 - fixture
    operations,
    use_virtual_clock,
)

pytestmark = pytest.mark.usefixtures("no_secret_leaks")

SANDBOX_OU = "ou-d3m0-sandbox1"
DEV_OU = "ou-d3m0-devwork1"
PROD_OU = "ou-d3m0-prodwork"
DATA_OU = "ou-d3m0-proddata"
ROOT = "r-d3m0"


class Org:
    """One sandbox world and one config, driven like a CI user: plan to a file, apply that file, then check."""

    def __init__(self, sandbox: Any, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.sandbox, self.config, self.capsys = sandbox, config, capsys

    def run(self, *argv: str) -> Run:
        return cli(self.capsys, *argv, "-c", str(self.config))

    def event(self, event: str, **args: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.sandbox.world.apply_event(event, args)
        self.wait()
        return result

    def wait(self, seconds: float = 1800) -> None:
        """Let auto-deployment operations and Clumio connections finish."""
        self.sandbox.world.apply_event("advance-time", {"seconds": seconds})

    def converge(self) -> None:
        """plan --out, apply exactly that plan (no --allow-destroy), then plan and drift both say nothing to do."""
        out = self.config.parent / "plan.json"
        planned = self.run("plan", "--out", str(out), "--format", "json")
        assert planned.code == 0, planned.text
        listed = [op["operation_id"] for op in json.loads(out.read_text())["operations"]
                  if op["kind"] != "CreateStackSet"]  # no StackSet operation of its own
        before = self.operation_ids()
        applied = cli(self.capsys, "apply", str(out), "--auto-approve", "-c", str(self.config))
        assert applied.code == 0, applied.text
        ours = self.operation_ids() - before
        assert ours == set(listed), "apply made a StackSet operation the plan did not list"
        self.wait()
        self.assert_clean()

    def assert_clean(self) -> None:
        plan = self.run("plan", "--detailed-exitcode")
        assert plan.code == 0, plan.text
        drift = self.run("drift", "--format", "json")
        assert drift.code == 0, drift.out

    def operation_ids(self) -> set[str]:
        cfn = self.sandbox.client("cloudformation")
        if not cfn.list_stack_sets(Status="ACTIVE")["Summaries"]:
            return set()
        return {o["OperationId"] for o in operations(self.sandbox)}

    def accounts_with_instances(self) -> set[str]:
        return {r["Account"] for r in instances(self.sandbox)}

    def accounts_under(self, ou: str) -> set[str]:
        org = self.sandbox.world.org
        return {a for a in org.accounts if ou in org.ancestors(org.accounts[a].parent_id)}


@pytest.fixture
def make_org(sandbox_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], Org]:
    use_virtual_clock(sandbox_env, monkeypatch)

    def make(targets: str | None = None) -> Org:
        config = demo_config(tmp_path)
        if targets is not None:
            text = config.read_text()
            start = text.index("targets:\n")
            end = text.index("\nregions:")
            config.write_text(text[:start] + "targets:\n" + targets + text[end:])
        return Org(sandbox_env, config, capsys)

    return make


def _events(org: Org, excluded_ous: list[str], targeted_ous: list[str]) -> None:
    """Accounts join each excluded OU, each targeted OU and the root; accounts move across; one is suspended and
    one closed. After each, the next apply converges and plan and drift stay at 0."""
    for i, ou in enumerate(excluded_ous + targeted_ous + [ROOT]):
        org.event("add-account", name=f"joiner-{i}", ou=ou)
        org.converge()
    moves = [("200000000001", SANDBOX_OU), ("500000000001", DEV_OU), ("300000000001", ROOT),
             ("600000000001", PROD_OU)]
    for account, ou in moves:
        org.event("move-account", account=account, ou=ou)
        org.converge()
    org.event("suspend-account", account="310000000001")
    org.converge()
    org.event("close-account", account="320000000002")
    org.converge()


def _skipped(text: str, reason: str, account: str) -> bool:
    """The text plan lists skipped accounts grouped by reason: ``  REASON (N accounts): ID, ID``."""
    return any(line.strip().startswith(reason) and account in line.rsplit("): ", 1)[-1]
               for line in text.splitlines())


@pytest.mark.slow  # ~40 s: 13 org events, each followed by plan, apply, plan and drift
def test_whole_org_with_excluded_ous_stays_converged_while_the_org_moves(make_org: Any) -> None:
    org = make_org()  # the demo config: organization: true, exclude /Sandbox
    org.converge()
    assert ROOT not in _stack_set_ous(org)
    _events(org, [SANDBOX_OU], [PROD_OU, DEV_OU])
    assert not org.accounts_with_instances() & org.accounts_under(SANDBOX_OU)
    root_accounts = {a for a, acct in org.sandbox.world.org.accounts.items() if acct.parent_id == ROOT}
    assert not org.accounts_with_instances() & root_accounts  # reachable only through the root: skipped


@pytest.mark.slow  # ~40 s: 13 org events, each followed by plan, apply, plan and drift
def test_ou_paths_and_extra_accounts_stay_converged_while_the_org_moves(make_org: Any) -> None:
    org = make_org("  ous: [/Workloads, /Security]\n  accounts: [\"600000000002\", \"210000000001\"]\n"
                   "  exclude:\n    ous: [/Workloads/Prod/Data]\n")
    org.converge()
    assert set(_stack_set_ous(org)) <= {PROD_OU, "ou-d3m0-staging1", DEV_OU, "ou-d3m0-security"}
    plan = org.run("plan")
    assert _skipped(plan.out, "not deployed: targeted by id, but / is not wholly targeted", "600000000002")
    assert _skipped(plan.out, "not deployed: targeted by id, but /Infrastructure is not wholly targeted",
                    "210000000001")
    _events(org, [DATA_OU], [PROD_OU, "ou-d3m0-security"])
    assert not org.accounts_with_instances() & org.accounts_under(DATA_OU)


def test_an_accepted_leak_is_expected_not_drift(make_org: Any) -> None:
    org = make_org("  organization: true\n  auto_deployment_reach: any\n  exclude:\n    ous: [/Sandbox]\n")
    org.converge()
    assert ROOT in _stack_set_ous(org)
    plan = org.run("plan")
    assert "accepted leak /: auto-deployment deploys to every account that joins it, including the excluded " \
           "/Sandbox" in plan.out
    joined = org.event("add-account", name="leaked", ou=SANDBOX_OU)["account"]
    assert joined in org.accounts_with_instances()  # AWS deploys: the config accepted it
    org.assert_clean()
    assert f"under the accepted leak ({joined})" in org.run("plan").out
    drift = org.run("drift")
    assert "expected, not drift" in drift.out and joined in drift.out


def test_template_update_with_a_suspended_account_needs_no_allow_destroy(make_org: Any) -> None:
    org = make_org()
    org.converge()
    org.event("suspend-account", account="310000000001")
    org.assert_clean()
    org.sandbox.world.apply_event("release-template", {"version": "24.5"})
    applied = org.run("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    org.wait()
    org.assert_clean()
    assert "310000000001" in org.accounts_with_instances()  # kept, skipped by AWS, listed as information
    # Back to ACTIVE: the next apply brings its instance to the new template; then nothing is left to do.
    org.event("reactivate-account", account="310000000001")
    plan = org.run("plan", "--detailed-exitcode")
    assert plan.code == 2 and "310000000001" in plan.out and "SKIPPED_SUSPENDED_ACCOUNT" in plan.out
    org.converge()
    rows = [r for r in instances(org.sandbox) if r["Account"] == "310000000001"]
    assert rows and all(r["Status"] == "CURRENT" for r in rows)


def test_a_root_target_left_by_an_earlier_run_is_narrowed(make_org: Any) -> None:
    org = make_org()
    cfn = org.sandbox.client("cloudformation")
    org.converge()
    # A console user adds the root as a target (UNION-free: create over the root for one account).
    cfn.create_stack_instances(StackSetName="clumio-org", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [ROOT], "AccountFilterType": "INTERSECTION",
                                                  "Accounts": ["600000000001"]})
    org.wait()
    assert ROOT in _stack_set_ous(org)
    drift = org.run("drift")
    assert drift.code == 2 and "which is not wholly desired" in drift.out
    plan = org.run("plan", "--detailed-exitcode")
    assert plan.code == 2 and "- r-d3m0" in plan.out and "assumes:" in plan.out
    applied = org.run("apply", "--auto-approve", "--allow-destroy")
    assert applied.code == 0, applied.text
    org.wait()
    assert ROOT not in _stack_set_ous(org)
    org.assert_clean()
    org.event("add-account", name="after-narrowing", ou=SANDBOX_OU)
    assert not org.accounts_with_instances() & org.accounts_under(SANDBOX_OU)


def _stack_set_ous(org: Org) -> list[str]:
    cfn = org.sandbox.client("cloudformation")
    return list(cfn.describe_stack_set(StackSetName="clumio-org")["StackSet"].get("OrganizationalUnitIds", []))
