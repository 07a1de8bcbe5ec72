"""The real AWS CLI (awscli from PyPI) reads the sandbox's world through AWS_ENDPOINT_URL, as a user would."""

from __future__ import annotations

from typing import Any

import requests

from tests.contract.awscli_runner import CliResult, aws_cli
from tests.contract.test_wire_world import _deploy, _spec_accounts


def run_aws(sandbox: Any, *args: str) -> CliResult:
    """``aws ARGS --output json`` against ``sandbox``: exit code, stdout and stderr."""
    return aws_cli(sandbox, *args)


def aws(sandbox: Any, *args: str) -> Any:
    result = run_aws(sandbox, *args)
    assert result.returncode == 0, result.stderr
    return result.json()


def test_aws_organizations_list_accounts_gives_the_worlds_accounts(sandbox: Any) -> None:
    from reconciler.sandbox.worldfile import default_world_path, load_world_spec

    listed = aws(sandbox, "organizations", "list-accounts")["Accounts"]
    assert {a["Id"]: a["Name"] for a in listed} == _spec_accounts(load_world_spec(default_world_path()))
    suspended = {a["Id"] for a in listed if a["Status"] == "SUSPENDED"}
    assert suspended == {a for a, acct in sandbox.world.org.accounts.items() if acct.state == "SUSPENDED"}


def test_aws_cloudformation_list_stack_instances_gives_the_worlds_instances(sandbox: Any) -> None:
    _deploy(sandbox, ["ou-d3m0-workload"], ["us-east-1", "eu-west-1"])
    requests.post(f"{sandbox.aws_url}/_sandbox/clock/advance", json={"seconds": 6 * 3600}, timeout=5)
    listed = aws(sandbox, "cloudformation", "list-stack-instances", "--stack-set-name", "clumio")["Summaries"]
    truth = {(i.account, i.region): i.detailed for i in sandbox.world.stack_set("clumio").instances}
    assert {(s["Account"], s["Region"]): s["StackInstanceStatus"]["DetailedStatus"] for s in listed} == truth
    assert "SUCCEEDED" in truth.values() and "SKIPPED_SUSPENDED_ACCOUNT" in truth.values()


def test_aws_cli_reports_sandbox_errors_as_aws_errors(sandbox: Any) -> None:
    result = aws_cli(sandbox, "cloudformation", "describe-stack-set", "--stack-set-name", "no-such-stack-set")
    assert result.returncode != 0
    assert "(StackSetNotFoundException)" in result.stderr
