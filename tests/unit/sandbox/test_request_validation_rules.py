"""The model-driven validator's rules, shape by shape, on botocore's real models (docs/reference/sandbox-fidelity.md
§1): what AWS would name in its "validation error detected" message for each class of mistake."""

from __future__ import annotations

from typing import Any

import botocore.session

from reconciler.sandbox.validation import coral_message, violations

_SESSION = botocore.session.get_session()


def _input(service: str, operation: str) -> Any:
    return _SESSION.get_service_model(service).operation_model(operation).input_shape


def test_a_valid_call_breaks_nothing() -> None:
    shape = _input("cloudformation", "CreateStackInstances")
    params = {"StackSetName": "clumio", "Regions": ["us-east-1"],
              "DeploymentTargets": {"OrganizationalUnitIds": ["ou-ab12-abcd1234"], "AccountFilterType": "NONE"},
              "OperationPreferences": {"MaxConcurrentCount": 10, "FailureToleranceCount": 0}}
    assert violations(shape, params) == []


def test_nested_members_are_named_by_their_lower_camel_path() -> None:
    shape = _input("cloudformation", "CreateStackInstances")
    params = {"StackSetName": "clumio", "Regions": ["us-east-1"],
              "OperationPreferences": {"MaxConcurrentCount": 0, "RegionConcurrencyType": "SOMETIMES"}}
    found = violations(shape, params)
    assert [(v.path, v.kind) for v in found] == [("operationPreferences.regionConcurrencyType", "enum"),
                                                 ("operationPreferences.maxConcurrentCount", "min_value")]


def test_structures_inside_lists_are_indexed_like_the_query_protocol() -> None:
    shape = _input("cloudformation", "UpdateStackSet")
    found = violations(shape, {"StackSetName": "clumio", "Parameters": [{"ParameterKey": "A"}, {"ParameterKey": 5}]})
    assert [(v.path, v.kind) for v in found] == [("parameters.2.member.parameterKey", "type")]


def test_types_are_checked_for_every_scalar_kind() -> None:
    found = violations(_input("sts", "AssumeRole"), {
        "RoleArn": "arn:aws:iam::111111111111:role/r", "RoleSessionName": "sess", "DurationSeconds": True})
    assert [(v.path, v.constraint) for v in found] == [("durationSeconds", "Member must be an integer")]
    found = violations(_input("cloudformation", "CreateStackSet"), {
        "StackSetName": "x", "ManagedExecution": {"Active": "yes"}})
    assert [(v.path, v.constraint) for v in found] == [("managedExecution.active", "Member must be a boolean")]


def test_list_sizes_and_string_lengths_are_bounded() -> None:
    shape = _input("cloudformation", "ListStackInstances")
    too_many = [{"Name": "DETAILED_STATUS", "Values": "SUCCEEDED"}] * 4
    found = violations(shape, {"StackSetName": "x", "Filters": too_many, "NextToken": ""})
    assert [(v.path, v.constraint) for v in found] == [
        ("nextToken", "Member must have length greater than or equal to 1"),
        ("filters", "Member must have length less than or equal to 3")]


def test_the_message_counts_and_joins_every_violation() -> None:
    found = violations(_input("cloudformation", "DescribeStackSet"), {"CallAs": "BOGUS"})
    assert coral_message(found) == (
        "2 validation errors detected: Value null at 'stackSetName' failed to satisfy constraint: Member must not be "
        "null; Value 'BOGUS' at 'callAs' failed to satisfy constraint: Member must satisfy enum value set: "
        "[SELF, DELEGATED_ADMIN]")

