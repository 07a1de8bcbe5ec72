"""AWS errors reach the user as our typed errors with a readable message and a hint (reference/aws-stacksets.md §A9),
and the session honours assume-role and adaptive retries."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from reconciler.core.desired import CallAs
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.ports import OperationIdAlreadyExists, OperationInProgress, StackSetNotFound, StaleRequest
from reconciler.providers.aws.errors import running_operation_id
from reconciler.providers.aws.organizations import AwsOrgReader
from reconciler.providers.aws.session import CLIENT_CONFIG, ApiCallCounter, make_client, make_session
from reconciler.providers.aws.stacksets import AwsStackSets
from reconciler.providers.factory import build_ports
from reconciler.sandbox.clock import VirtualClock
from tests.fakes import make_desired


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s",
                          endpoint_url="https://example.invalid")
    return client, Stubber(client)


def stack_sets_failing(code: str, message: str, call_as: CallAs = CallAs.SELF) -> AwsStackSets:
    client, stub = stubbed("cloudformation")
    stub.add_client_error("stop_stack_set_operation", service_error_code=code, service_message=message,
                          http_status_code=409)
    stub.activate()
    return AwsStackSets(client, call_as)


def test_operation_in_progress_carries_the_running_operation_id() -> None:
    port = stack_sets_failing("OperationInProgressException", "Another Operation on StackSet "
                              "arn:aws:cloudformation:us-east-1:100000000001:stackset/clumio-org:1f2e is in progress: "
                              "clumio-org-0123456789abcdef-004")
    with pytest.raises(OperationInProgress) as error:
        port.stop_operation("clumio-org", "x")
    assert error.value.running_operation_id == "clumio-org-0123456789abcdef-004"


def test_operation_in_progress_without_an_id_still_maps() -> None:
    assert running_operation_id("Another Operation on StackSet is in progress") is None


@pytest.mark.parametrize(("code", "kind"), [("StaleRequestException", StaleRequest),
                                            ("OperationIdAlreadyExistsException", OperationIdAlreadyExists),
                                            ("StackSetNotFoundException", StackSetNotFound)])
def test_stackset_exceptions_become_typed_errors(code: str, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        stack_sets_failing(code, "nope").stop_operation("clumio-org", "x")


def test_access_denied_names_the_permission_to_grant() -> None:
    port = stack_sets_failing("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/ci is not authorized")
    with pytest.raises(ProviderError) as error:
        port.stop_operation("clumio-org", "x")
    assert "cloudformation:StopStackSetOperation" in error.value.message
    assert error.value.hint and "allow cloudformation:StopStackSetOperation" in error.value.hint


def test_expired_token_says_to_refresh_credentials() -> None:
    client, stub = stubbed("sts")
    stub.add_client_error("get_caller_identity", service_error_code="ExpiredToken",
                          service_message="The security token included in the request is expired")
    stub.activate()
    reader = AwsOrgReader(organizations=None, sts=client, ec2=None, iam=None)
    with pytest.raises(ProviderError) as error:
        reader.caller_account()
    assert "expired" in error.value.message
    assert error.value.hint and "refresh your AWS credentials" in error.value.hint


def test_call_as_is_sent_on_reads_for_a_delegated_admin() -> None:
    client, stub = stubbed("cloudformation")
    stub.add_response("describe_stack_set_operation",
                      {"StackSetOperation": {"OperationId": "op-1", "Action": "CREATE", "Status": "RUNNING"}},
                      {"StackSetName": "clumio-org", "OperationId": "op-1", "CallAs": "DELEGATED_ADMIN"})
    stub.activate()
    view = AwsStackSets(client, CallAs.DELEGATED_ADMIN).describe_operation("clumio-org", "op-1")
    assert view.operation_id == "op-1"
    stub.assert_no_pending_responses()


def test_missing_credentials_is_a_user_error_with_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    ports = build_ports(make_desired())
    with pytest.raises(ProviderError) as error:
        ports.org.caller_account()
    assert "no usable AWS credentials" in error.value.message and error.value.hint


def test_unknown_profile_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ReconcilerError) as error:
        make_session("us-east-1", None, profile="does-not-exist")
    assert "AWS_PROFILE" in (error.value.hint or "")


def test_clients_retry_throttling_adaptively_ten_times() -> None:
    client = make_client(make_session("us-east-1", None), "cloudformation")
    assert client.meta.config.retries["mode"] == "adaptive"
    assert client.meta.config.retries["total_max_attempts"] == 11  # botocore counts the first try too
    assert CLIENT_CONFIG.user_agent_extra == "clumio-org"


@pytest.fixture
def sandbox_now(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A demo sandbox whose clock starts at wall-clock now: assumed-role credentials expire an hour from *now*,
    as AWS's do (botocore refuses credentials that look expired)."""
    running = sandbox_factory("demo", clock=VirtualClock(datetime.now(UTC)))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in running.env().items():
        monkeypatch.setenv(name, value)
    return running


def test_assumed_role_acts_as_its_account_and_counts_calls(sandbox_now: Any) -> None:
    counter = ApiCallCounter()
    session = make_session("us-east-1", "arn:aws:iam::210000000003:role/ClumioOrgDeployer", counter)
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == "210000000003"
    assert counter["sts.GetCallerIdentity"] == 1


def test_assumed_role_works_even_when_the_issuer_clock_is_in_the_past(sandbox_env: Any) -> None:
    # The demo sandbox runs on simulated time that starts in the past: its credentials "expired" long ago.
    session = make_session("us-east-1", "arn:aws:iam::210000000003:role/ClumioOrgDeployer")
    assert session.client("sts").get_caller_identity()["Account"] == "210000000003"


def test_assume_role_arn_from_the_config_is_used(sandbox_now: Any) -> None:
    desired = make_desired()
    desired = replace(desired, organization=replace(
        desired.organization, assume_role_arn="arn:aws:iam::210000000003:role/ClumioOrgDeployer"),
        clumio=replace(desired.clumio, api_url=sandbox_now.clumio_url))
    assert build_ports(desired).org.caller_account() == "210000000003"


def test_unknown_aws_profile_in_the_environment_is_a_user_error(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "typo-profile")
    with pytest.raises(ReconcilerError, match="typo-profile"):
        build_ports(make_desired())


def test_a_stack_set_that_changed_since_the_plan_says_to_plan_again() -> None:
    port = stack_sets_failing("StackInstanceNotFoundException", "Stack instance not found")
    with pytest.raises(ProviderError) as error:
        port.stop_operation("clumio-org", "x")
    assert "StackInstanceNotFoundException" in error.value.message
    assert "clumio-org plan" in (error.value.hint or "")
