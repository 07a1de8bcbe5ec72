"""Wire contract: every AWS operation the sandbox serves round-trips through boto3, field for field.

A recording world answers each call with a sample that fills *every* member of the operation's output shape (built
from botocore's model), so botocore must parse back exactly what the world returned; the same holds for the input
boto3 sent. Every error the model declares for those operations arrives as a ClientError with the model's code and
HTTP status. No world semantics here: see test_wire_world.py for the real World.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape

from reconciler.sandbox import protocols
from reconciler.sandbox.api import AwsFault, ClumioResponse
from reconciler.sandbox.clock import VirtualClock
from reconciler.sandbox.objects import InMemoryObjectStore
from reconciler.sandbox.server import RunningSandbox, start_in_thread
from tests.contract.model_samples import valid_string

# The operations the shared sandbox contract lists, per service.
OPERATIONS: dict[str, list[str]] = {
    "cloudformation": [
        "CreateStackSet", "DescribeStackSet", "ListStackSets", "UpdateStackSet", "DeleteStackSet",
        "CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances", "ListStackInstances",
        "DescribeStackInstance", "DescribeStackSetOperation", "ListStackSetOperations",
        "ListStackSetOperationResults", "StopStackSetOperation", "DetectStackSetDrift",
        "ListStackInstanceResourceDrifts",
    ],
    "organizations": [
        "DescribeOrganization", "ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent",
        "ListChildren", "ListParents", "ListAccounts", "DescribeAccount", "DescribeOrganizationalUnit",
        "ListAWSServiceAccessForOrganization", "ListDelegatedAdministrators", "EnableAWSServiceAccess",
        "RegisterDelegatedAdministrator",
    ],
    "sts": ["GetCallerIdentity", "AssumeRole"],
    "iam": ["GetRole"],
    "ec2": ["DescribeRegions"],
}
CASES = [(service, operation) for service, operations in OPERATIONS.items() for operation in operations]
SAMPLE_TIME = datetime(2026, 1, 5, 9, 30, 15, 250000, tzinfo=UTC)
_MODELS = botocore.session.get_session()


class RecordingWorld:
    """A world that answers from a table and remembers every call it received."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = VirtualClock()
        self.objects = InMemoryObjectStore()
        self.calls: list[tuple[str, str, dict[str, Any], str, str]] = []
        self.answers: dict[str, Any] = {}
        self.latency = 0.0

    def handle_aws(self, service: str, operation: str, params: dict[str, Any], *, access_key: str,
                   region: str) -> dict[str, Any]:
        self.calls.append((service, operation, params, access_key, region))
        answer = self.answers.get(operation, {})
        if isinstance(answer, Exception):
            raise answer
        return answer(params) if callable(answer) else answer

    def handle_clumio(self, request: Any) -> ClumioResponse:
        return ClumioResponse(200, b"{}")

    def apply_event(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {}

    def status(self) -> dict[str, Any]:
        return {}

    def call_latency_seconds(self) -> float:
        return self.latency


def sample(shape: Shape, depth: int = 0, botocore_input: bool = False) -> Any:
    """A value for ``shape`` that sets every member (recursion cut at depth 6)."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        return {name: sample(member, depth + 1, botocore_input) for name, member in shape.members.items()
                if not member.serialization.get("location")}
    if kind == "list":
        return [sample(shape.member, depth + 1, botocore_input)] if depth <= 6 else []
    if kind == "map":
        return {"k": sample(shape.value, depth + 1, botocore_input)}
    if kind == "string":
        if shape.enum:
            return shape.enum[-1]
        return valid_string(shape)
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return SAMPLE_TIME
    if kind == "blob":
        return b"blob-bytes"
    raise AssertionError(f"no sample for {kind}")


def normalise(value: Any) -> Any:
    """Compare datetimes by instant (botocore returns them in local time)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[RunningSandbox, RecordingWorld]]:
    # One server (and one client per service) for the module's hundreds of cases; each test gets a clean world.
    world = RecordingWorld()
    sandbox = start_in_thread(world)
    clients: dict[tuple[Any, ...], Any] = {}
    make_client = sandbox.client

    def cached_client(service: str, account: str | None = None, region: str | None = None) -> Any:
        key = (service, account, region)
        if key not in clients:
            clients[key] = make_client(service, account, region)
        return clients[key]

    sandbox.client = cached_client  # type: ignore[method-assign]
    yield sandbox, world
    sandbox.stop()


@pytest.fixture
def world(_served: tuple[RunningSandbox, RecordingWorld]) -> RecordingWorld:
    world = _served[1]
    world.calls.clear()
    world.answers.clear()
    world.latency = 0.0
    return world


@pytest.fixture
def wired(_served: tuple[RunningSandbox, RecordingWorld], world: RecordingWorld) -> RunningSandbox:
    return _served[0]


@pytest.mark.parametrize(("service", "operation"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_operation_round_trips_every_input_and_output_member(wired: Any, world: RecordingWorld, service: str,
                                                             operation: str) -> None:
    model = _MODELS.get_service_model(service).operation_model(operation)
    params = sample(model.input_shape) if model.input_shape is not None else {}
    output = sample(model.output_shape) if model.output_shape is not None else {}
    world.answers[operation] = output
    protocols.UNKNOWN_MEMBERS.clear()

    response = getattr(wired.client(service), botocore.xform_name(operation))(**params)

    called_service, called_operation, received, _, region = world.calls[-1]
    assert (called_service, called_operation, region) == (service, operation, "us-east-1")
    assert normalise(received) == normalise(params)
    assert normalise(response) == normalise(output)
    assert not protocols.UNKNOWN_MEMBERS


def _declared_errors() -> list[tuple[str, str, str, str, int]]:
    rows = []
    for service, operations in OPERATIONS.items():
        model = _MODELS.get_service_model(service)
        for operation in operations:
            for error in model.operation_model(operation).error_shapes:
                declared = error.metadata.get("error") or {}
                rows.append((service, operation, error.name, declared.get("code", error.name),
                             declared.get("httpStatusCode", 400)))
    return rows


ERRORS = _declared_errors()


@pytest.mark.parametrize(("service", "operation", "shape_name", "code", "status"), ERRORS,
                         ids=[f"{r[1]}-{r[2]}" for r in ERRORS])
def test_declared_error_arrives_with_its_code_and_http_status(wired: Any, world: RecordingWorld, service: str,
                                                               operation: str, shape_name: str, code: str,
                                                               status: int) -> None:
    model = _MODELS.get_service_model(service).operation_model(operation)
    world.answers[operation] = AwsFault(shape_name, f"{shape_name} happened", 400)
    params = sample(model.input_shape) if model.input_shape is not None else {}
    with pytest.raises(ClientError) as caught:
        getattr(wired.client(service), botocore.xform_name(operation))(**params)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"] == f"{shape_name} happened"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(("service", "operation", "code", "status"), [
    ("cloudformation", "CreateStackInstances", "OperationInProgressException", 409),
    ("cloudformation", "DescribeStackSet", "StackSetNotFoundException", 404),
    ("cloudformation", "ListStackInstances", "Throttling", 400),
    ("cloudformation", "CreateStackInstances", "ValidationError", 400),
    ("organizations", "ListAccounts", "Throttling", 400),
    ("organizations", "ListAccounts", "TooManyRequestsException", 400),
    ("iam", "GetRole", "NoSuchEntity", 404),
    ("ec2", "DescribeRegions", "UnauthorizedOperation", 403),
])
def test_fault_named_by_wire_code_keeps_code_and_status(wired: Any, world: RecordingWorld, service: str,
                                                        operation: str, code: str, status: int) -> None:
    model = _MODELS.get_service_model(service).operation_model(operation)
    world.answers[operation] = AwsFault(code, "Rate exceeded" if code == "Throttling" else "no", status)
    with pytest.raises(ClientError) as caught:
        getattr(wired.client(service), botocore.xform_name(operation))(**sample(model.input_shape))
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_members_the_output_shape_lacks_are_dropped_and_reported(wired: Any, world: RecordingWorld) -> None:
    world.answers["ListAccounts"] = {"Accounts": [{"Id": "111111111111", "Colour": "blue"}], "Bogus": 1}
    world.answers["ListStackSets"] = {"Summaries": [{"StackSetName": "x", "Colour": "blue"}]}
    protocols.UNKNOWN_MEMBERS.clear()
    accounts = wired.client("organizations").list_accounts()["Accounts"]
    summaries = wired.client("cloudformation").list_stack_sets()["Summaries"]
    assert accounts == [{"Id": "111111111111"}]
    assert summaries == [{"StackSetName": "x"}]
    expected = {("organizations", "Account", "Colour"), ("organizations", "ListAccountsResponse", "Bogus"),
                ("cloudformation", "StackSetSummary", "Colour")}
    reported = set(protocols.UNKNOWN_MEMBERS)
    assert reported == expected


@pytest.mark.parametrize(("service", "operation", "items", "page_key"), [
    ("cloudformation", "ListStackInstances", "Summaries", "StackSetName"),
    ("organizations", "ListAccounts", "Accounts", None),
])
def test_paginator_follows_next_token_across_pages(wired: Any, world: RecordingWorld, service: str,
                                                  operation: str, items: str, page_key: str | None) -> None:
    pages = {None: ("a", ["1", "2"]), "a": ("b", ["3", "4"]), "b": (None, ["5"])}
    item_key = "Account" if service == "cloudformation" else "Id"

    def answer(params: dict[str, Any]) -> dict[str, Any]:
        token, accounts = pages[params.get("NextToken")]
        out: dict[str, Any] = {items: [{item_key: a} for a in accounts]}
        if token:
            out["NextToken"] = token
        return out

    world.answers[operation] = answer
    paginator = wired.client(service).get_paginator(botocore.xform_name(operation))
    kwargs = {page_key: "s"} if page_key else {}
    seen = [row[item_key] for page in paginator.paginate(**kwargs) for row in page[items]]
    assert seen == ["1", "2", "3", "4", "5"]
    assert [call[2].get("NextToken") for call in world.calls] == [None, "a", "b"]


def test_caller_access_key_and_region_reach_the_world(wired: Any, world: RecordingWorld) -> None:
    wired.client("sts").get_caller_identity()
    wired.client("cloudformation", account="111122223333", region="eu-west-1").list_stack_sets()
    wired.client("organizations", account="222233334444", region="eu-central-1").list_roots()
    assert [(c[0], c[3], c[4]) for c in world.calls] == [
        ("sts", "sandbox", "us-east-1"),
        ("cloudformation", "AKIASBX111122223333", "eu-west-1"),
        ("organizations", "AKIASBX222233334444", "eu-central-1"),
    ]


def test_world_latency_is_waited_before_aws_answers(wired: Any, world: RecordingWorld) -> None:
    world.latency = 0.15
    started = time.monotonic()
    wired.client("sts").get_caller_identity()
    assert time.monotonic() - started >= 0.15


def test_world_latency_is_waited_before_clumio_answers_but_not_the_control_api(wired: Any,
                                                                                world: RecordingWorld) -> None:
    # The benchmarks' network bound charges every AWS and Clumio call the same per-call latency.
    import requests

    world.latency = 0.15
    started = time.monotonic()
    requests.get(f"{wired.clumio_url}/connections/aws", timeout=10)
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    requests.get(f"{wired.aws_url}/_sandbox/status", timeout=10)
    assert time.monotonic() - started < 0.15
