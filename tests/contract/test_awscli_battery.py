"""Contract: the real AWS CLI over a broad battery of read commands against a deployed sandbox world — every command
answers as AWS would, with pagination (``--max-items``, ``--page-size``, ``--starting-token``) and error cases
(docs/reference/sandbox-fidelity.md §1, §2, §3, §5). 0 unexpected failures is the bar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.sandbox.server import RunningSandbox, start_in_thread
from tests.conftest import build_world
from tests.contract.awscli_runner import aws_cli
from tests.contract.test_wire_world import _deploy

OK = ""
PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ACCOUNT = "300000000001"
ADMIN_KEY = "AKIASBX210000000003"  # the demo world's StackSets delegated administrator

# (argv, "" for success or the error code the CLI must print). "{op}" is the deployment's operation id.
BATTERY: list[tuple[tuple[str, ...], str]] = [
    (("organizations", "describe-organization"), OK),
    (("organizations", "list-roots"), OK),
    (("organizations", "list-accounts"), OK),
    (("organizations", "list-accounts", "--page-size", "3"), OK),
    (("organizations", "list-accounts", "--max-items", "4"), OK),
    (("organizations", "list-organizational-units-for-parent", "--parent-id", "r-d3m0"), OK),
    (("organizations", "list-organizational-units-for-parent", "--parent-id", "ou-d3m0-workload",
      "--page-size", "1"), OK),
    (("organizations", "list-accounts-for-parent", "--parent-id", "ou-d3m0-security"), OK),
    (("organizations", "list-children", "--parent-id", "r-d3m0", "--child-type", "ORGANIZATIONAL_UNIT"), OK),
    (("organizations", "list-children", "--parent-id", "ou-d3m0-prodwork", "--child-type", "ACCOUNT"), OK),
    (("organizations", "list-parents", "--child-id", ACCOUNT), OK),
    (("organizations", "list-parents", "--child-id", "ou-d3m0-proddata"), OK),
    (("organizations", "describe-account", "--account-id", ACCOUNT), OK),
    (("organizations", "describe-organizational-unit", "--organizational-unit-id", "ou-d3m0-prodwork"), OK),
    (("organizations", "list-aws-service-access-for-organization"), OK),
    (("organizations", "list-delegated-administrators"), OK),
    (("organizations", "list-delegated-administrators", "--service-principal", PRINCIPAL), OK),
    (("organizations", "describe-account", "--account-id", "999999999990"), "AccountNotFoundException"),
    (("organizations", "describe-organizational-unit", "--organizational-unit-id", "ou-d3m0-zzzzzzzz"),
     "OrganizationalUnitNotFoundException"),
    (("organizations", "list-children", "--parent-id", "ou-d3m0-nothere1", "--child-type", "ACCOUNT"),
     "ParentNotFoundException"),
    (("organizations", "list-parents", "--child-id", "123456789012"), "ChildNotFoundException"),
    (("organizations", "describe-account", "--account-id", "12ab"), "InvalidInputException"),
    (("organizations", "list-children", "--parent-id", "r-d3m0", "--child-type", "BOGUS"), "InvalidInputException"),
    (("organizations", "list-organizational-units-for-parent", "--parent-id", "not-an-id"), "InvalidInputException"),
    (("organizations", "list-accounts", "--max-results", "50"), "InvalidInputException"),
    (("cloudformation", "list-stack-sets"), OK),
    (("cloudformation", "list-stack-sets", "--status", "ACTIVE"), OK),
    (("cloudformation", "describe-stack-set", "--stack-set-name", "clumio"), OK),
    (("cloudformation", "describe-stack-set", "--stack-set-name", "clumio", "--call-as", "SELF"), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio"), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--max-items", "3"), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--page-size", "2"), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--stack-instance-region",
      "us-east-1"), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--stack-instance-account",
      ACCOUNT), OK),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--filters",
      "Name=DETAILED_STATUS,Values=SUCCEEDED"), OK),
    (("cloudformation", "describe-stack-instance", "--stack-set-name", "clumio", "--stack-instance-account",
      ACCOUNT, "--stack-instance-region", "us-east-1"), OK),
    (("cloudformation", "list-stack-set-operations", "--stack-set-name", "clumio"), OK),
    (("cloudformation", "describe-stack-set-operation", "--stack-set-name", "clumio", "--operation-id", "{op}"), OK),
    (("cloudformation", "list-stack-set-operation-results", "--stack-set-name", "clumio", "--operation-id", "{op}"),
     OK),
    (("cloudformation", "list-stack-set-operation-results", "--stack-set-name", "clumio", "--operation-id", "{op}",
      "--max-items", "2"), OK),
    (("cloudformation", "list-stack-set-auto-deployment-targets", "--stack-set-name", "clumio"), OK),
    (("cloudformation", "get-template-summary", "--stack-set-name", "clumio"), OK),
    (("cloudformation", "describe-stack-set", "--stack-set-name", "no-such-set"), "StackSetNotFoundException"),
    (("cloudformation", "describe-stack-instance", "--stack-set-name", "clumio", "--stack-instance-account",
      "200000000001", "--stack-instance-region", "eu-west-1"), "StackInstanceNotFoundException"),
    (("cloudformation", "describe-stack-set-operation", "--stack-set-name", "clumio", "--operation-id", "nope-1"),
     "OperationNotFoundException"),
    (("cloudformation", "get-template-summary", "--stack-set-name", "no-such-set"), "StackSetNotFoundException"),
    (("cloudformation", "list-stack-sets", "--status", "BOGUS"), "ValidationError"),
    (("cloudformation", "describe-stack-set", "--stack-set-name", "clumio", "--call-as", "BOGUS"),
     "ValidationError"),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--stack-instance-account", "12ab"),
     "ValidationError"),
    (("cloudformation", "describe-stack-set-operation", "--stack-set-name", "clumio", "--operation-id", "bad_id!"),
     "ValidationError"),
    (("cloudformation", "list-stack-sets", "--max-results", "101"), "ValidationError"),
    (("sts", "get-caller-identity"), OK),
    (("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
      "--role-session-name", "battery"), OK),
    (("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
      "--role-session-name", "battery", "--duration-seconds", "100000"), "ValidationError"),
    (("iam", "get-role", "--role-name", "AWSCloudFormationStackSetAdministrationRole"), OK),
    (("ec2", "describe-regions"), OK),
    (("s3", "ls"), OK),
    (("s3", "ls", "s3://clumio-templates/", "--recursive"), OK),
    (("s3api", "list-buckets"), OK),
    (("s3api", "head-bucket", "--bucket", "clumio-templates"), OK),
    (("s3api", "get-bucket-versioning", "--bucket", "clumio-templates"), OK),
    (("s3api", "list-objects-v2", "--bucket", "clumio-templates"), OK),
    (("s3api", "list-objects-v2", "--bucket", "clumio-templates", "--max-items", "1"), OK),
    (("s3api", "list-object-versions", "--bucket", "clumio-templates"), OK),
    (("s3api", "list-objects-v2", "--bucket", "no-such-bucket"), "NoSuchBucket"),
    (("s3api", "head-object", "--bucket", "clumio-templates", "--key", "missing"), "404"),
    (("s3api", "get-object", "--bucket", "clumio-templates", "--key", "missing", "/dev/null"), "NoSuchKey"),
]


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[RunningSandbox, str]]:
    sandbox = start_in_thread(build_world())
    try:
        operation = _deploy(sandbox, ["ou-d3m0-workload", "ou-d3m0-security"], ["us-east-1", "us-west-2"])
        sandbox.world.clock.advance(6 * 3600)
        yield sandbox, operation
    finally:
        sandbox.stop()


def _argv(argv: tuple[str, ...], operation: str) -> list[str]:
    return [a.replace("{op}", operation) for a in argv]


@pytest.mark.parametrize(("argv", "code"), BATTERY, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in
                                                        enumerate(BATTERY)])
def test_aws_cli_command_answers_as_aws_would(deployed: tuple[RunningSandbox, str], argv: tuple[str, ...],
                                              code: str) -> None:
    sandbox, operation = deployed
    result = aws_cli(sandbox, *_argv(argv, operation))
    if code == OK:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        if argv[:2] != ("s3", "ls") and argv[1] not in ("head-bucket", "get-bucket-versioning"):
            assert isinstance(result.json(), dict)
    else:
        assert result.returncode in (254, 255), result.stdout
        assert f"({code})" in result.stderr


def test_max_items_pages_join_up_to_the_whole_listing(deployed: tuple[RunningSandbox, str]) -> None:
    sandbox, _ = deployed
    for argv, key in ((("organizations", "list-accounts"), "Accounts"),
                      (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio"), "Summaries")):
        whole = [str(item) for item in aws_cli(sandbox, *argv).json()[key]]
        pieces: list[str] = []
        token: str | None = None
        while True:
            more = ["--starting-token", token] if token else []
            page = aws_cli(sandbox, *argv, "--max-items", "12", *more).json()
            pieces += [str(item) for item in page[key]]
            token = page.get("NextToken")
            if not token:
                break
        assert pieces == whole and len(whole) > 12
        small_pages = aws_cli(sandbox, *argv, "--page-size", "5").json()[key]
        assert [str(item) for item in small_pages] == whole


def test_a_delegated_administrator_lists_stack_sets_with_call_as(deployed: tuple[RunningSandbox, str]) -> None:
    sandbox, _ = deployed
    result = aws_cli(sandbox, "cloudformation", "list-stack-sets", "--call-as", "DELEGATED_ADMIN",
                     env={"AWS_ACCESS_KEY_ID": ADMIN_KEY})
    assert result.returncode == 0, result.stderr
    assert [s["StackSetName"] for s in result.json()["Summaries"]] == ["clumio"]
