"""Contract: templates, parameters and API hygiene of CreateStackSet/UpdateStackSet (aws-stacksets.md §A2, §A9)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import create_clumio_stack_set, deployment_parameters, template_url, world_spec

TEMPLATE = """
Parameters:
  Colour: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Ref Colour
"""


@pytest.fixture
def cf(sandbox_factory):
    return sandbox_factory(world_spec()).client("cloudformation")


def _error(call, **kwargs):
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]


def test_template_that_does_not_parse_is_rejected(cf):
    """§A2: the template must parse (YAML with CloudFormation short tags, or JSON)."""
    error = _error(cf.create_stack_set, StackSetName="bad", TemplateBody="Resources: [unclosed")
    assert error["Code"] == "ValidationError"
    assert "Template format error" in error["Message"]


def test_parameter_not_declared_by_the_template_is_rejected(cf):
    """§A2: every parameter passed must be declared by the template."""
    error = _error(cf.create_stack_set, StackSetName="bad", TemplateBody=TEMPLATE,
                   Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"},
                               {"ParameterKey": "Size", "ParameterValue": "L"}])
    assert error["Code"] == "ValidationError"
    assert "Size" in error["Message"]


def test_required_parameter_without_value_is_rejected(cf):
    """§A2: a parameter without a default must be given."""
    error = _error(cf.create_stack_set, StackSetName="bad", TemplateBody=TEMPLATE)
    assert "Colour" in error["Message"] and "must have values" in error["Message"]


def test_template_body_over_51200_bytes_is_rejected(cf):
    """§A2/§A10: TemplateBody is limited to 51,200 bytes."""
    body = TEMPLATE + "#" * 51_200
    assert _error(cf.create_stack_set, StackSetName="big", TemplateBody=body)["Code"] == "ValidationError"


def test_template_body_and_url_are_mutually_exclusive(cf):
    """§A2: exactly one of TemplateBody / TemplateURL."""
    assert _error(cf.create_stack_set, StackSetName="x")["Code"] == "ValidationError"


def test_template_url_resolves_against_the_sandbox_s3(sandbox_factory):
    """§A2: TemplateURL points at S3; Clumio's template URL is served by the sandbox itself."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    body = cf.describe_stack_set(StackSetName="clumio")["StackSet"]["TemplateBody"]
    assert "ClumioTemplateVersion" in body
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket="my-templates")
    s3.put_object(Bucket="my-templates", Key="t.yaml", Body=TEMPLATE.encode())
    cf.create_stack_set(StackSetName="from-s3", TemplateURL=f"{sandbox.aws_url}/my-templates/t.yaml",
                        Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}])
    missing = _error(cf.create_stack_set, StackSetName="nope", TemplateURL=f"{sandbox.aws_url}/my-templates/x")
    assert missing["Code"] == "ValidationError"


def test_iam_resources_need_the_named_iam_capability(sandbox_factory):
    """§A2: templates creating IAM roles need CAPABILITY_NAMED_IAM (the seed's acknowledgement checkbox)."""
    sandbox = sandbox_factory(world_spec())
    params = deployment_parameters(sandbox)
    error = _error(sandbox.client("cloudformation").create_stack_set, StackSetName="c",
                   TemplateURL=template_url(sandbox), PermissionModel="SERVICE_MANAGED",
                   AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                   Parameters=[{"ParameterKey": "ClumioToken", "ParameterValue": params["token"]},
                               {"ParameterKey": "RoleExternalId", "ParameterValue": params["external_id"]}])
    assert error["Code"] == "InsufficientCapabilitiesException"


def test_duplicate_stack_set_name_is_rejected(sandbox_factory):
    """§A2/§A9: names are unique per region in the admin account → NameAlreadyExistsException."""
    sandbox = sandbox_factory(world_spec())
    create_clumio_stack_set(sandbox)
    with pytest.raises(ClientError) as error:
        create_clumio_stack_set(sandbox)
    assert error.value.response["Error"]["Code"] == "NameAlreadyExistsException"


def test_stack_sets_are_regional(sandbox_factory):
    """§A2: a StackSet is a regional resource: the same name is free in another region."""
    sandbox = sandbox_factory(world_spec())
    create_clumio_stack_set(sandbox)
    assert create_clumio_stack_set(sandbox, client=sandbox.client("cloudformation", region="eu-west-1"))
    error = _error(sandbox.client("cloudformation", region="us-west-2").describe_stack_set, StackSetName="clumio")
    assert error["Code"] == "StackSetNotFoundException"


def test_throttling_fault_answers_rate_exceeded(sandbox_factory):
    """§A9: API throttling comes back as Throttling, "Rate exceeded" (HTTP 400)."""
    sandbox = sandbox_factory(world_spec(faults={"throttle_rate": 1.0}))
    error = _error(sandbox.client("cloudformation").list_stack_sets)
    assert (error["Code"], error["Message"]) == ("Throttling", "Rate exceeded")


def test_more_than_fifty_tags_are_rejected(cf):
    """§A2/§A10: at most 50 tags."""
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    error = _error(cf.create_stack_set, StackSetName="tagged", TemplateBody=TEMPLATE, Tags=tags,
                   Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}])
    assert error["Code"] == "ValidationError"
