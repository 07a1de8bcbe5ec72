"""Contract: GetTemplateSummary for a StackSet answers from its stored template — parameters, capabilities and
resource types (docs/reference/sandbox-fidelity.md §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import create_clumio_stack_set, world_spec

PLAIN = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09", "Description": "a queue",
    "Parameters": {"Size": {"Type": "Number", "Default": "3", "AllowedValues": ["1", "3"]},
                   "Secret": {"Type": "String", "NoEcho": True, "Description": "kept back"}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Role": {"Type": "AWS::IAM::Role", "Properties": {}}},
})


@pytest.fixture
def sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(world_spec())


def test_summary_of_the_clumio_stack_set_names_its_parameters_and_named_iam(sandbox: Any) -> None:
    cf = create_clumio_stack_set(sandbox)
    summary = cf.get_template_summary(StackSetName="clumio")
    parameters = {p["ParameterKey"]: p for p in summary["Parameters"]}
    assert {"ClumioToken", "RoleExternalId"} <= set(parameters)
    assert parameters["ClumioToken"]["NoEcho"] is True and parameters["ClumioToken"]["ParameterType"] == "String"
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert "AWS::IAM::Role" in summary["ResourceTypes"] and "AWS::IAM::Role" in summary["CapabilitiesReason"]
    assert json.loads(summary["Metadata"])["ClumioTemplateVersion"] == "24.4"


def test_summary_of_a_template_body_reports_defaults_constraints_and_unnamed_iam(sandbox: Any) -> None:
    cf = sandbox.client("cloudformation")
    cf.create_stack_set(StackSetName="plain", TemplateBody=PLAIN, Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": "Secret", "ParameterValue": "x"}])
    summary = cf.get_template_summary(StackSetName="plain")
    assert summary["Parameters"] == [
        {"ParameterKey": "Size", "DefaultValue": "3", "ParameterType": "Number", "NoEcho": False,
         "ParameterConstraints": {"AllowedValues": ["1", "3"]}},
        {"ParameterKey": "Secret", "ParameterType": "String", "NoEcho": True, "Description": "kept back",
         "ParameterConstraints": {}}]
    assert summary["Capabilities"] == ["CAPABILITY_IAM"]
    assert summary["ResourceTypes"] == ["AWS::SQS::Queue", "AWS::IAM::Role"]
    assert (summary["Description"], summary["Version"]) == ("a queue", "2010-09-09")
    assert cf.get_template_summary(TemplateBody=PLAIN)["ResourceTypes"] == summary["ResourceTypes"]


def test_summary_of_a_missing_stack_set_is_not_found(sandbox: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sandbox.client("cloudformation").get_template_summary(StackSetName="nothing")
    assert caught.value.response["Error"]["Code"] == "StackSetNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
