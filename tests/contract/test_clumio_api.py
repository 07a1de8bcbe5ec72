"""Contract: the sandbox's Clumio REST API (reference/clumio-api.md §1, §3.1–§3.3, §4)."""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from tests.contract.sandbox_helpers import (
    APP_ONE,
    CLUMIO_HEADERS,
    NESTED,
    OU_APPS,
    create_clumio_stack_set,
    deploy,
    deployment_parameters,
    instances,
    wait_for_operation,
    world_spec,
)


@pytest.fixture
def sandbox(sandbox_factory):
    return sandbox_factory(world_spec())


def _get(sandbox, path, headers=CLUMIO_HEADERS, **params):
    return requests.get(f"{sandbox.clumio_url}{path}", headers=headers, params=params, timeout=10)


def _deployed(sandbox, regions=("us-east-1", "us-west-2")):
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], list(regions), OperationPreferences={"MaxConcurrentCount": 10,
                                                                        "FailureToleranceCount": 9})
    sandbox.world.clock.advance(30)  # connect_seconds: every connection is connected now
    return cf


def test_org_deployment_parameters_are_stable_per_organization(sandbox):
    """§3.1: PUT org-deployment-parameters {aws_org_id} → token (ClumioToken) and external_id (RoleExternalId)."""
    first, second = deployment_parameters(sandbox), deployment_parameters(sandbox)
    assert first == second
    assert len(first["token"]) == 36 and first["external_id"]


def test_org_deployment_parameters_reject_another_organization(sandbox):
    """§1 error body: a wrong org id is a 400 with {"errors": [{error_code, error_message}]}."""
    response = requests.put(f"{sandbox.clumio_url}/connections/aws/org-deployment-parameters",
                            json={"aws_org_id": "o-someoneelse1"}, headers=CLUMIO_HEADERS, timeout=10)
    assert response.status_code == 400
    assert response.json()["errors"][0]["error_message"]


def test_missing_bearer_token_is_403_code_359(sandbox):
    """§1: the only verified error: no token → HTTP 403, error_code 359, "The authentication token is missing"."""
    response = _get(sandbox, "/connections/aws", headers={"Accept": CLUMIO_HEADERS["Accept"]})
    assert response.status_code == 403
    assert response.json() == {"errors": [{"error_code": 359, "error_message": "The authentication token is missing"}]}


def test_wrong_bearer_token_is_401(sandbox):
    """§1: 401/403 for auth."""
    response = _get(sandbox, "/connections/aws", headers={**CLUMIO_HEADERS, "Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["error_code"]


@pytest.mark.parametrize("accept", ["application/api.clumio.*=v1+json",
                                    "application/api.clumio.aws-connections=v1+json"])
def test_versioned_accept_headers_are_accepted(sandbox, accept):
    """§1: Accept application/api.clumio.<resource>=v1+json or the wildcard form."""
    assert _get(sandbox, "/connections/aws", headers={**CLUMIO_HEADERS, "Accept": accept}).status_code == 200


def test_missing_versioned_accept_header_is_refused(sandbox):
    """§1 (D-VER): every request must include the versioned Accept header."""
    response = _get(sandbox, "/connections/aws", headers={**CLUMIO_HEADERS, "Accept": "application/json"})
    assert response.status_code == 406
    assert "errors" in response.json()


def test_templates_get_reports_the_current_version(sandbox):
    """§3.2: GET /connections/aws/templates returns {_links, config} with the latest available versions."""
    body = _get(sandbox, "/connections/aws/templates").json()
    assert set(body) == {"_links", "config"}
    assert body["config"]["available_template_version"] == "24.4"
    assert body["config"]["ebs"]["available_template_version"]


def test_templates_post_returns_a_fetchable_url_of_the_current_template(sandbox):
    """§3.2: POST returns URLs (not the body); the URL is served by the sandbox's own S3, anonymously."""
    response = requests.post(f"{sandbox.clumio_url}/connections/aws/templates", headers=CLUMIO_HEADERS, timeout=10,
                             json={"asset_types_enabled": ["EC2/EBS", "RDS"], "organization_template": True})
    body = response.json()
    assert response.status_code == 200 and body["config"]["available_template_version"] == "24.4"
    template = requests.get(body["cloudformation_url"], timeout=10)
    assert template.status_code == 200
    doc = yaml.load(template.text, Loader=yaml.BaseLoader)
    assert doc["Metadata"]["ClumioTemplateVersion"] == "24.4"
    assert "ClumioRdsEventRule" in doc["Resources"] and "ClumioS3EventRule" not in doc["Resources"]


def test_release_template_event_changes_the_available_version(sandbox):
    """§3.2/§6: Clumio serves only its latest template; a release moves available_template_version."""
    sandbox.world.apply_event("release-template", {"version": "25.1"})
    body = _get(sandbox, "/connections/aws/templates").json()
    assert body["config"]["available_template_version"] == "25.1"


def test_connection_goes_connecting_then_connected_with_the_installed_version(sandbox):
    """§3.3/§4: a connection <account>_<region> appears when its stack succeeds, connecting → connected."""
    cf = create_clumio_stack_set(sandbox)
    op_id = cf.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"],
                                      DeploymentTargets={"OrganizationalUnitIds": [OU_APPS]},
                                      OperationPreferences={"MaxConcurrentCount": 10, "FailureToleranceCount": 9}
                                      )["OperationId"]
    assert _get(sandbox, f"/connections/aws/{APP_ONE}_us-east-1").status_code == 404
    sandbox.world.clock.advance(100)
    connection = _get(sandbox, f"/connections/aws/{APP_ONE}_us-east-1").json()
    assert connection["connection_status"] == "connecting"
    assert connection["id"] == f"{APP_ONE}_us-east-1"
    assert connection["config"]["installed_template_version"] == "24.4"
    assert connection["config"]["ebs"]["installed_template_version"]  # the helper's template enables EBS and S3
    assert connection["config"]["rds"] is None
    sandbox.world.clock.advance(30)
    assert _get(sandbox, f"/connections/aws/{APP_ONE}_us-east-1").json()["connection_status"] == "connected"
    assert cf.describe_stack_set_operation(StackSetName="clumio", OperationId=op_id)["StackSetOperation"]


def test_wrong_clumio_token_fails_the_stack_and_creates_no_connection(sandbox):
    """A stack deployed with a ClumioToken Clumio did not issue fails with a believable reason."""
    cf = create_clumio_stack_set(sandbox, token="00000000-0000-0000-0000-000000000000")
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"], OperationPreferences={"FailureToleranceCount": 9})
    summary = instances(cf)[(APP_ONE, "us-east-1")]
    assert summary["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert "ClumioToken" in summary["StatusReason"]
    assert _get(sandbox, f"/connections/aws/{APP_ONE}_us-east-1").status_code == 404


def test_list_connections_filters_by_account_region_and_status(sandbox):
    """§3.3: filter account_native_id $in, aws_region $in, connection_status $eq."""
    _deployed(sandbox)
    flt = {"account_native_id": {"$in": [APP_ONE, NESTED]}, "aws_region": {"$in": ["us-west-2"]}}
    items = _get(sandbox, "/connections/aws", filter=json.dumps(flt)).json()["_embedded"]["items"]
    assert sorted(i["id"] for i in items) == [f"{APP_ONE}_us-west-2", f"{NESTED}_us-west-2"]
    connected = _get(sandbox, "/connections/aws", filter=json.dumps({"connection_status": {"$eq": "connected"}}))
    assert connected.json()["current_count"] == 8


def test_list_connections_pages_with_limit_and_next(sandbox):
    """§1: limit + opaque start; follow _links._next until it is absent."""
    _deployed(sandbox)
    seen, path, params = [], "/connections/aws", {"limit": 3}
    while True:
        body = _get(sandbox, path, **params).json()
        seen += [i["id"] for i in body["_embedded"]["items"]]
        nxt = body["_links"].get("_next")
        if not nxt:
            break
        params = dict(p.split("=", 1) for p in nxt["href"].split("?", 1)[1].split("&"))
    assert len(seen) == len(set(seen)) == 8
    assert _get(sandbox, path, limit=101).status_code == 400


def test_deleted_instance_unlinks_its_connection(sandbox):
    """§4: connection_status unlinked after the stack is deleted; unlink-connection event does the same."""
    cf = _deployed(sandbox, regions=("us-east-1",))
    sandbox.world.apply_event("unlink-connection", {"account": NESTED, "region": "us-east-1"})
    assert _get(sandbox, f"/connections/aws/{NESTED}_us-east-1").json()["connection_status"] == "unlinked"
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=False,
                                      DeploymentTargets={"OrganizationalUnitIds": [OU_APPS]})["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    assert _get(sandbox, f"/connections/aws/{APP_ONE}_us-east-1").json()["connection_status"] == "unlinked"


def test_clumio_error_rate_fault_returns_429_or_5xx(sandbox_factory):
    """§1 rate limiting: the sandbox can answer 429/5xx so clients prove their backoff."""
    sandbox = sandbox_factory(world_spec(faults={"clumio_error_rate": 1.0}))
    statuses = {_get(sandbox, "/connections/aws").status_code for _ in range(8)}
    assert statuses <= {429, 503} and statuses
