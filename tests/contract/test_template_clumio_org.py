"""Contract: the sandbox's Clumio org CloudFormation template (issue 3 point 6; seed parameters; §A2 limits)."""

from __future__ import annotations

import pytest
import yaml

from reconciler.sandbox.template import parse_template, render_clumio_template

VERSIONS = ["24.3", "24.4"]
# Every asset block is independent of the others, so linting the full template of each version plus one narrow
# choice covers every resource and every removal (cfn-lint takes seconds per template).
LINTED = [("24.3", ["EBS", "RDS", "S3", "DynamoDB"]), ("24.4", ["EBS", "RDS", "S3", "DynamoDB"]), ("24.4", ["S3"])]


@pytest.mark.parametrize(("version", "assets"), LINTED)
def test_cfn_lint_passes_on_the_template(version, assets):
    """cfn-lint (a test dependency) reports nothing on the template."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(render_clumio_template(version, assets), config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_template_declares_the_seed_parameters_with_secrets_no_echo():
    """Seed: ClumioToken and RoleExternalId (NoEcho), SendCFTDeploymentEventsToClumio (True/False, default True),
    PermissionsBoundaryARN (default ""), the inventory-topic KMS choice."""
    params = parse_template(render_clumio_template("24.4")).parameters
    assert params["ClumioToken"].no_echo and params["RoleExternalId"].no_echo
    assert params["SendCFTDeploymentEventsToClumio"].allowed_values == ("True", "False")
    assert params["SendCFTDeploymentEventsToClumio"].default == "True"
    assert params["PermissionsBoundaryARN"].default == ""
    assert params["CreateClumioInventoryTopicEncryptionKey"].allowed_values == ("True", "False")
    assert params["ClumioInventoryTopicEncryptionKey"].default == ""


def test_deployment_tracking_rule_exists_only_when_events_are_sent():
    """Seed: SendCFTDeploymentEventsToClumio creates ClumioDeploymentTrackingEventRule (a conditioned resource)."""
    doc = yaml.load(render_clumio_template("24.4"), Loader=yaml.BaseLoader)
    rule = doc["Resources"]["ClumioDeploymentTrackingEventRule"]
    assert rule["Type"] == "AWS::Events::Rule" and rule["Condition"] == "SendDeploymentEvents"
    assert doc["Resources"]["ClumioInventoryTopicKey"]["Type"] == "AWS::KMS::Key"


def test_template_names_its_clumio_version_and_stays_under_the_body_limit():
    """A reader can tell a StackSet's Clumio version from its TemplateBody; §A2: body ≤ 51,200 bytes."""
    for version in VERSIONS:
        body = render_clumio_template(version, ["EBS", "RDS", "S3", "DynamoDB"])
        assert parse_template(body).clumio_version == version
        assert len(body.encode()) < 51_200


def test_asset_types_switch_resource_blocks():
    """Asset types enable or disable the template's per-asset resources and permissions."""
    s3_only = parse_template(render_clumio_template("24.4", ["S3"]))
    assert "ClumioS3EventRule" in s3_only.resources and "ClumioEbsEventRule" not in s3_only.resources
    assert s3_only.asset_types == ("S3",)
    assert {"ClumioIAMRole", "ClumioEventPubRole", "ClumioSupportRole", "ClumioInventoryTopic"} <= set(
        s3_only.resources)


def test_versions_differ_in_content():
    """Each catalog version is a distinct template, so an update is a real template change."""
    assert render_clumio_template("24.3") != render_clumio_template("24.4")
