"""Contract: the sandbox rejects malformed AWS calls the way AWS does, before any operation logic
(docs/reference/sandbox-fidelity.md §1).

Each case is a call a real client can make; AWS answers it with the service's validation error, so a tool tested
against the sandbox cannot ship it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.contract.awscli_runner import aws_cli

# (argv, error code in the CLI's message) — the cases issue #14 lists under "Why", §1.
CLI_CASES = [
    (("organizations", "list-children", "--parent-id", "r-d3m0", "--child-type", "BOGUS"),
     "(InvalidInputException)"),
    (("cloudformation", "list-stack-sets", "--status", "BOGUS"), "(ValidationError)"),
    (("cloudformation", "describe-stack-set", "--stack-set-name", "clumio", "--call-as", "BOGUS"),
     "(ValidationError)"),
    (("cloudformation", "list-stack-instances", "--stack-set-name", "clumio", "--stack-instance-account", "12ab"),
     "(ValidationError)"),
    (("organizations", "describe-account", "--account-id", "12ab"), "(InvalidInputException)"),
    (("organizations", "list-organizational-units-for-parent", "--parent-id", "not-an-id"),
     "(InvalidInputException)"),
    (("cloudformation", "describe-stack-set-operation", "--stack-set-name", "clumio", "--operation-id", "bad_id!"),
     "(ValidationError)"),
]


@pytest.mark.parametrize(("argv", "code"), CLI_CASES, ids=[" ".join(c[0][:2]) + " " + c[0][-2] for c in CLI_CASES])
def test_aws_cli_malformed_call_is_rejected_with_the_services_validation_error(sandbox: Any, argv: tuple[str, ...],
                                                                               code: str) -> None:
    result = aws_cli(sandbox, *argv)
    assert result.returncode == 254 or result.returncode == 255, result.stdout
    assert code in result.stderr
    assert "NotFound" not in result.stderr


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, dict[str, Any]]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def test_organizations_names_the_class_of_mistake_in_reason(sandbox: Any) -> None:
    org = sandbox.client("organizations")
    cases = {
        "INVALID_PATTERN": lambda: org.describe_account(AccountId="12ab"),
        "INVALID_ENUM": lambda: org.list_children(ParentId="r-d3m0", ChildType="BOGUS"),
        "MAX_VALUE_EXCEEDED": lambda: org.list_accounts(MaxResults=21),
        "MAX_LENGTH_EXCEEDED": lambda: org.describe_account(AccountId="1234567890123"),
    }
    for reason, call in cases.items():
        with pytest.raises(ClientError) as caught:
            call()
        code, status, response = _error(caught)
        assert (code, status, response.get("Reason")) == ("InvalidInputException", 400, reason)


def test_organizations_missing_required_member_is_input_required(sandbox: Any) -> None:
    org = sandbox.client("organizations", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as caught:
        org.list_children(ParentId="r-d3m0")
    code, status, response = _error(caught)
    assert (code, status, response.get("Reason")) == ("InvalidInputException", 400, "INPUT_REQUIRED")


def test_cloudformation_validation_error_names_each_member_as_aws_does(sandbox: Any) -> None:
    cf = sandbox.client("cloudformation", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as caught:
        cf.create_stack_set(Capabilities=["CAPABILITY_EVERYTHING"], TemplateBody="{}")
    code, status, response = _error(caught)
    assert (code, status) == ("ValidationError", 400)
    assert response["Error"]["Message"] == (
        "2 validation errors detected: Value null at 'stackSetName' failed to satisfy constraint: Member must not "
        "be null; Value '[CAPABILITY_EVERYTHING]' at 'capabilities' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM, "
        "CAPABILITY_AUTO_EXPAND]]")


def test_cloudformation_range_and_type_mistakes_are_validation_errors(sandbox: Any) -> None:
    cf = sandbox.client("cloudformation", config=Config(parameter_validation=False))
    for call in (lambda: cf.list_stack_sets(MaxResults=0), lambda: cf.list_stack_sets(MaxResults=101),
                 lambda: cf.list_stack_sets(MaxResults="many"),
                 lambda: cf.list_stack_instances(StackSetName="clumio", Filters=[{"Name": "DETAILED_STATUS",
                                                                                  "Values": "x"}] * 4)):
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught)[:2] == ("ValidationError", 400)


def test_sts_and_iam_validate_like_the_other_query_services(sandbox: Any) -> None:
    sts = sandbox.client("sts", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/x", RoleSessionName="s", DurationSeconds=1)
    code, status, response = _error(caught)
    assert (code, status) == ("ValidationError", 400)
    assert "'roleSessionName'" in response["Error"]["Message"] and "'durationSeconds'" in response["Error"]["Message"]
    iam = sandbox.client("iam", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName="")
    assert _error(caught)[:2] == ("ValidationError", 400)


def test_ec2_answers_invalid_parameter_value_for_a_value_of_the_wrong_type(sandbox: Any) -> None:
    # A form botocore would never build (it validates booleans), posted as a raw query-protocol call.
    form = {"Action": "DescribeRegions", "Version": "2016-11-15", "AllRegions": "maybe"}
    response = requests.post(f"{sandbox.aws_url}/", data=form, timeout=10)
    assert response.status_code == 400
    assert "<Code>InvalidParameterValue</Code>" in response.text and "allRegions" in response.text
    assert sandbox.client("ec2").describe_regions(AllRegions=True)["Regions"]


def test_services_added_later_are_validated_too(sandbox: Any) -> None:
    """Organizations' policy API and Control Tower (REST-JSON) came after the validator: it applies to them as is."""
    with pytest.raises(ClientError) as caught:
        sandbox.client("organizations").list_policies(Filter="BOGUS_POLICY")
    code, status, response = _error(caught)
    assert (code, status, response.get("Reason")) == ("InvalidInputException", 400, "INVALID_ENUM")
    ct = sandbox.client("controltower", config=Config(parameter_validation=False))
    for call in (lambda: ct.list_landing_zones(maxResults=5), lambda: ct.get_landing_zone()):
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught)[:2] == ("ValidationException", 400)


def test_a_well_formed_call_still_reaches_the_operation(sandbox: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sandbox.client("organizations").describe_account(AccountId="123456789012")
    assert _error(caught)[0] == "AccountNotFoundException"
    with pytest.raises(ClientError) as caught:
        sandbox.client("cloudformation").describe_stack_set_operation(StackSetName="clumio", OperationId="no-such-op")
    assert _error(caught)[0] in ("StackSetNotFoundException", "OperationNotFoundException")
