"""The Clumio client against the sandbox's Clumio API over HTTP: token checks, the org template and its version,
deployment parameters, connections appearing after a deployment, pagination and retries under injected faults."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.core.errors import PreflightError, ProviderError
from reconciler.core.live import ConnectionStatus
from reconciler.core.plan import DeploymentTargets, Operation, OperationKind, StackSetDefinition
from reconciler.core.ports import TemplateParameter
from reconciler.providers.clumio import client as clumio_client
from reconciler.providers.clumio.client import ClumioClient, make_retry
from reconciler.providers.factory import build_ports
from tests.contract.test_provider_aws_sandbox import ORG_ID, definition, demo_desired

CANARY = ("400000000001", "400000000002")


def make_client(sandbox: Any, token: str = "sandbox-api-token") -> ClumioClient:
    return ClumioClient(sandbox.clumio_url, "CLUMIO_API_TOKEN", environ={"CLUMIO_API_TOKEN": token},
                        retry=make_retry(total=8, backoff_factor=0))


def test_the_sandbox_token_is_accepted_and_a_wrong_one_rejected(sandbox: Any) -> None:
    make_client(sandbox).check_token()
    with pytest.raises(PreflightError) as error:
        make_client(sandbox, "not-the-token").check_token()
    assert "Clumio rejected the API token" in error.value.message
    assert "not-the-token" not in f"{error.value.message} {error.value.hint}"


def test_org_template_body_carries_the_version_clumio_reports(sandbox: Any) -> None:
    template = make_client(sandbox).org_template(["EC2/EBS", "RDS", "DynamoDB", "S3"])
    assert template.version == make_client(sandbox).latest_template().version == "24.4"
    assert re.search(r"ClumioTemplateVersion:\s*['\"]?24\.4", template.body)
    assert len(template.body.encode()) < 51_200


def test_deployment_parameters_for_the_org_and_an_error_for_another(sandbox: Any) -> None:
    params = make_client(sandbox).org_deployment_parameters(ORG_ID)
    assert params.token.reveal() and params.external_id.reveal()
    with pytest.raises(ProviderError) as error:
        make_client(sandbox).org_deployment_parameters("o-someoneelse1")
    assert "HTTP 400" in error.value.message
    assert params.token.reveal() not in error.value.message


def deploy_canary(sandbox: Any) -> None:
    """Create the StackSet and deploy the Canary OU in two regions, then let Clumio connect them."""
    ports = build_ports(demo_desired(sandbox))
    template = ports.clumio.org_template(["EC2/EBS", "S3"])
    secrets = ports.clumio.org_deployment_parameters(ORG_ID)
    d: StackSetDefinition = definition(template.sha256)
    ports.stacksets.create_stack_set(d, template.body, [TemplateParameter("ClumioToken", secrets.token),
                                                        TemplateParameter("RoleExternalId", secrets.external_id)])
    op = Operation(index=0, operation_id="clumio-org-00000000000000bb-000",
                   kind=OperationKind.CREATE_STACK_INSTANCES, stack_set="clumio-org", wave=None,
                   regions=("us-east-1", "us-west-2"), targets=DeploymentTargets(("ou-d3m0-canary01",)))
    ports.stacksets.create_instances(op)
    sandbox.world.clock.advance(3600)


def test_connections_appear_after_deployment_and_pages_are_followed(sandbox_env: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    deploy_canary(sandbox_env)
    calls: list[str] = []
    monkeypatch.setattr(clumio_client, "PAGE_LIMIT", 3)
    client = ClumioClient(sandbox_env.clumio_url, on_call=calls.append)
    found = client.list_connections([*CANARY, "300000000001"])
    assert [(c.account, c.region, c.status) for c in found] == [
        (a, r, ConnectionStatus.CONNECTED) for a in CANARY for r in ("us-east-1", "us-west-2")]
    assert all(c.installed_template_version == "24.4" for c in found)
    assert calls == ["clumio.ListConnections"] * 2  # 4 connections at 3 per page
    only_west = client.list_connections(CANARY, regions=["us-west-2"])
    assert {c.region for c in only_west} == {"us-west-2"}


def test_retries_ride_out_clumio_errors(sandbox_env: Any) -> None:
    deploy_canary(sandbox_env)
    sandbox_env.world.apply_event("set-faults", {"clumio_error_rate": 0.5, "seed": 3})
    client = make_client(sandbox_env)
    for _ in range(5):
        assert len(client.list_connections(CANARY)) == 4
        assert client.latest_template().version == "24.4"
