"""Contract: the sandbox's Clumio API as the Clumio SDKs model it — the whole connection resource, every documented
filter, connection CRUD, connection groups, AWS environments, organizational units and the OU context header
(reference/clumio-api.md §1, §3.2, §3.3, §3.5, §3.6, §5; docs/reference/sandbox-fidelity.md §4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    CLUMIO_HEADERS,
    NESTED,
    OU_APPS,
    create_clumio_stack_set,
    deploy,
    world_spec,
)

GLOBAL_OU = "00000000-0000-0000-0000-000000000000"
# §3.3: the connection object's fields (list item, read, create and update responses alike).
CONNECTION_FIELDS = {
    "_links", "id", "account_native_id", "aws_region", "account_name", "description", "organizational_unit_id",
    "connection_status", "connection_management_status", "deployment_type", "ingestion_status",
    "target_setup_status", "token", "external_id", "connection_group_id", "clumio_aws_account_id",
    "clumio_aws_region", "data_plane_account_id", "stack_name", "stack_arn", "retired_stack_arn",
    "created_timestamp", "namespace", "template_permission_set", "protect_asset_types_enabled", "services_enabled",
    "config", "discover", "protect", "resources",
}
CONFIG_FIELDS = {"installed_template_version", "asset_types_enabled", "ebs", "s3", "rds", "dynamodb", "ec2",
                 "ec2_mssql", "iceberg_on_glue", "iceberg_on_s3_tables", "warm_tier_protect"}


@pytest.fixture
def sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(world_spec())


def call(sandbox: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         **params: Any) -> requests.Response:
    return requests.request(method, f"{sandbox.clumio_url}{path}", json=body, params=params,
                            headers={**CLUMIO_HEADERS, **(headers or {})}, timeout=10)


def _deployed(sandbox: Any) -> None:
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], ["us-east-1", "us-west-2"],
           OperationPreferences={"MaxConcurrentCount": 10, "FailureToleranceCount": 9})
    sandbox.world.clock.advance(30)


def _ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["_embedded"]["items"])


def test_a_connection_carries_every_field_of_the_sdk_model_and_its_links(sandbox: Any) -> None:
    """§3.3: every AWSConnection field; `_links` for update/delete; external_id only when asked; read adds _etag."""
    _deployed(sandbox)
    listed = call(sandbox, "GET", "/connections/aws").json()["_embedded"]["items"][0]
    assert set(listed) == CONNECTION_FIELDS and set(listed["config"]) == CONFIG_FIELDS
    assert set(listed["_links"]) == {"_self", "update-connection-aws", "delete-connection-aws",
                                     "read-organizational-unit"}
    assert listed["_links"]["delete-connection-aws"]["type"] == "delete"
    assert listed["token"] and listed["external_id"] is None
    read = call(sandbox, "GET", f"/connections/aws/{APP_ONE}_us-east-1", return_external_id="true").json()
    assert read["_etag"] and read["external_id"] and read["clumio_aws_account_id"] and read["namespace"]
    assert read["config"]["ec2"] is not None and read["config"]["warm_tier_protect"] is None
    assert read["resources"]["clumio_iam_role_arn"].startswith(f"arn:aws:iam::{APP_ONE}:role/")


def test_every_documented_connection_filter_is_served(sandbox: Any) -> None:
    """§3.3 table: account_alias $contains, connection_type $eq, organizational_unit_id $in, services_enabled
    $contains, account_native_id $begins_with — each narrows the listing."""
    _deployed(sandbox)

    def listed(flt: dict[str, Any]) -> list[str]:
        return _ids(call(sandbox, "GET", "/connections/aws", filter=json.dumps(flt)))

    assert listed({"account_alias": {"$contains": "app-t"}}) == [f"{APP_TWO}_us-east-1", f"{APP_TWO}_us-west-2"]
    assert len(listed({"connection_type": {"$eq": "protect"}})) == 8
    assert len(listed({"organizational_unit_id": {"$in": [GLOBAL_OU]}})) == 8
    assert listed({"organizational_unit_id": {"$in": ["11111111-1111-1111-1111-111111111111"]}}) == []
    assert len(listed({"services_enabled": {"$contains": "s3"}})) == 8
    assert listed({"services_enabled": {"$contains": "rds"}}) == []  # the helper's template enables EBS and S3
    assert listed({"account_native_id": {"$begins_with": "33"}}) == [f"{NESTED}_us-east-1", f"{NESTED}_us-west-2"]
    assert listed({"connection_status": {"$in": ["connected"]}, "aws_region": {"$in": ["us-west-2"]}})[0].endswith(
        "us-west-2")


@pytest.mark.parametrize("flt", [{"stack_arn": {"$eq": "x"}}, {"aws_region": {"$contains": "us"}},
                                 {"account_native_id": "111111111111"}])
def test_a_filter_the_endpoint_does_not_document_is_400(sandbox: Any, flt: dict[str, Any]) -> None:
    response = call(sandbox, "GET", "/connections/aws", filter=json.dumps(flt))
    assert response.status_code == 400 and response.json()["errors"][0]["error_message"]


def test_connections_are_created_read_updated_and_deleted(sandbox: Any) -> None:
    """§3.3 create/update/delete: a created connection is connecting with its own token until its stack runs."""
    created = call(sandbox, "POST", "/connections/aws", {"account_native_id": APP_ONE, "aws_region": "eu-west-1",
                                                         "description": "made by hand",
                                                         "protect_asset_types_enabled": ["EC2/EBS", "EC2MSSQL"]})
    assert created.status_code == 200, created.text
    body = created.json()
    assert set(body) == CONNECTION_FIELDS
    assert (body["id"], body["connection_status"], body["description"]) == (
        f"{APP_ONE}_eu-west-1", "connecting", "made by hand")
    assert len(body["token"]) == 36 and body["protect_asset_types_enabled"] == ["EC2/EBS", "EC2MSSQL"]
    again = call(sandbox, "POST", "/connections/aws", {"account_native_id": APP_ONE, "aws_region": "eu-west-1"})
    assert again.status_code == 409
    patched = call(sandbox, "PATCH", f"/connections/aws/{APP_ONE}_eu-west-1", {"description": "renamed"})
    assert patched.json()["description"] == "renamed"
    assert call(sandbox, "GET", f"/connections/aws/{APP_ONE}_eu-west-1").json()["description"] == "renamed"
    assert call(sandbox, "DELETE", f"/connections/aws/{APP_ONE}_eu-west-1").json() == {}
    assert call(sandbox, "GET", f"/connections/aws/{APP_ONE}_eu-west-1").status_code == 404
    bad = call(sandbox, "POST", "/connections/aws", {"account_native_id": "12ab", "aws_region": "eu-west-1"})
    assert bad.status_code == 400


def test_a_created_connection_connects_once_its_stack_runs(sandbox: Any) -> None:
    call(sandbox, "POST", "/connections/aws", {"account_native_id": APP_ONE, "aws_region": "us-east-1"})
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"], OperationPreferences={"MaxConcurrentCount": 10})
    sandbox.world.clock.advance(30)
    assert call(sandbox, "GET", f"/connections/aws/{APP_ONE}_us-east-1").json()["connection_status"] == "connected"


def test_connection_groups_are_created_listed_and_read(sandbox: Any) -> None:
    """§3.5: a group's id is the ClumioToken of its stack; its regions get connections that name the group."""
    created = call(sandbox, "POST", "/connections/aws/connection-groups", {
        "account_native_id": APP_TWO, "master_aws_account_id": APP_TWO, "master_region": "us-east-1",
        "aws_regions": ["us-east-1", "eu-west-1"], "asset_types": ["EC2/EBS", "S3"]})
    assert created.status_code == 200, created.text
    group = created.json()
    assert group["external_id"] and group["deployment_template_url"] and group["aws_regions"] == [
        "us-east-1", "eu-west-1"]
    assert _ids(call(sandbox, "GET", "/connections/aws/connection-groups")) == [group["id"]]
    flt = json.dumps({"account_native_id": {"$in": [APP_ONE]}})
    assert _ids(call(sandbox, "GET", "/connections/aws/connection-groups", filter=flt)) == []
    read = call(sandbox, "GET", f"/connections/aws/connection-groups/{group['id']}").json()
    assert read["id"] == group["id"] and read["external_id"] is None and read["_etag"]
    member = call(sandbox, "GET", f"/connections/aws/{APP_TWO}_eu-west-1").json()
    assert (member["connection_group_id"], member["token"]) == (group["id"], group["id"])


def test_aws_environments_list_connected_connections(sandbox: Any) -> None:
    """§3.6: a connection becomes an environment once connected; filters account_native_id $eq, aws_region $eq."""
    assert call(sandbox, "GET", "/datasources/aws/environments").json()["_embedded"]["items"] == []
    _deployed(sandbox)
    flt = json.dumps({"account_native_id": {"$eq": APP_ONE}, "aws_region": {"$eq": "us-west-2"}})
    items = call(sandbox, "GET", "/datasources/aws/environments", filter=flt).json()["_embedded"]["items"]
    assert [(i["connection_id"], i["connection_status"]) for i in items] == [(f"{APP_ONE}_us-west-2", "installed")]
    one = call(sandbox, "GET", f"/datasources/aws/environments/{items[0]['id']}").json()
    assert one["template_version"] == 24 and one["organizational_unit_id"] == GLOBAL_OU


def test_organizational_units_list_the_global_ou(sandbox: Any) -> None:
    body = call(sandbox, "GET", "/organizational-units").json()
    assert [i["id"] for i in body["_embedded"]["items"]] == [GLOBAL_OU]
    assert body["total_count"] == 1 and body["total_pages_count"] == 1
    assert call(sandbox, "GET", f"/organizational-units/{GLOBAL_OU}").json()["children_count"] == 0
    assert call(sandbox, "GET", "/organizational-units/11111111-1111-1111-1111-111111111111").status_code == 404


@pytest.mark.parametrize("context", ["", GLOBAL_OU])
def test_the_sdks_ou_context_header_is_accepted(sandbox: Any, context: str) -> None:
    """§1: both SDKs always send x-clumio-organizationalunit-context, empty when unset."""
    response = call(sandbox, "GET", "/connections/aws/templates",
                    headers={"x-clumio-organizationalunit-context": context})
    assert response.status_code == 200


def test_an_ou_context_naming_no_ou_is_refused(sandbox: Any) -> None:
    response = call(sandbox, "GET", "/connections/aws",
                    headers={"x-clumio-organizationalunit-context": "11111111-1111-1111-1111-111111111111"})
    assert response.status_code == 404 and "organizationalunit" in response.json()["errors"][0]["error_message"]


def test_templates_keep_ec2mssql_and_honour_manual_resources_and_group_token(sandbox: Any) -> None:
    """§3.2, §5: EC2MSSQL stays enabled; show_manual_resources fills resources; return_group_token a token."""
    body = call(sandbox, "POST", "/connections/aws/templates",
                {"asset_types_enabled": ["EC2/EBS", "EC2MSSQL", "S3"], "show_manual_resources": True,
                 "aws_account_id": APP_ONE, "aws_region": "us-east-1"}, return_group_token="true").json()
    assert body["config"]["asset_types_enabled"] == ["EC2/EBS", "EC2MSSQL", "S3"]
    assert body["resources"] and body["group_token"]
    assert {"ec2", "ec2_mssql", "iceberg_on_glue", "iceberg_on_s3_tables", "warm_tier_protect"} <= set(
        body["config"])
    plain = call(sandbox, "POST", "/connections/aws/templates", {"asset_types_enabled": ["S3"]}).json()
    assert plain["resources"] is None and plain["group_token"] is None
    for wrong in ({"asset_types_enabled": ["EC2MSSQL"]}, {"asset_types_enabled": ["Bogus"]},
                  {"asset_types_enabled": ["S3"], "show_manual_resources": True}):
        assert call(sandbox, "POST", "/connections/aws/templates", wrong).status_code == 400
