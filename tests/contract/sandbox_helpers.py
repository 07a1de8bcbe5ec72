"""Helpers for the sandbox contract tests: small worlds, the Clumio StackSet the seed describes, waiting on time."""

from __future__ import annotations

import copy
from typing import Any

import requests

ORG_ID = "o-test000001"
MANAGEMENT = "999999999999"
ROOT = "r-t3st"
OU_APPS = "ou-t3st-apps0001"
OU_NESTED = "ou-t3st-nested01"
OU_DEEP = "ou-t3st-deep0001"
OU_OTHER = "ou-t3st-other001"
OU_EMPTY = "ou-t3st-empty001"
APP_ONE, APP_TWO, NESTED, SUSPENDED, DEEP, OTHER, ROOT_ACCOUNT = (
    "111111111111", "222222222222", "333333333333", "444444444444", "666666666666", "555555555555",
    "777777777777")
CLUMIO_HEADERS = {"Authorization": "Bearer sandbox-api-token", "Accept": "application/api.clumio.*=v1+json"}

_SPEC: dict[str, Any] = {
    "organization": {"id": ORG_ID, "management_account": MANAGEMENT, "management_account_name": "mgmt",
                     "root_id": ROOT},
    "ous": [
        {"name": "Apps", "id": OU_APPS,
         "accounts": [{"id": APP_ONE, "name": "app-one"}, {"id": APP_TWO, "name": "app-two"}],
         "ous": [{"name": "Nested", "id": OU_NESTED,
                  "accounts": [{"id": NESTED, "name": "nested"},
                               {"id": SUSPENDED, "name": "nested-suspended", "state": "SUSPENDED"}],
                  "ous": [{"name": "Deep", "id": OU_DEEP, "accounts": [{"id": DEEP, "name": "deep"}]}]}]},
        {"name": "Other", "id": OU_OTHER, "accounts": [{"id": OTHER, "name": "other"}]},
        {"name": "Empty", "id": OU_EMPTY},
    ],
    "accounts": [{"id": ROOT_ACCOUNT, "name": "root-level"}],
    "stacksets": {"trusted_access": True, "delegated_admins": [OTHER]},
    "regions": {"enabled": ["us-east-1", "us-west-2", "eu-west-1"]},
    "clumio": {"api_token": "sandbox-api-token", "templates": {"versions": ["24.3", "24.4"], "current": "24.4"}},
    "timing": {"instance_seconds": 100, "connect_seconds": 30, "drift_seconds": 10},
}


def world_spec(**overrides: Any) -> dict[str, Any]:
    """The test organization: Apps → Nested → Deep (3 levels), Other, an empty OU, one account under the root.

    Keyword arguments replace top-level sections (``faults={...}``, ``timing={...}``).
    """
    spec = copy.deepcopy(_SPEC)
    spec.update(overrides)
    return spec


def deployment_parameters(sandbox: Any) -> dict[str, str]:
    response = requests.put(f"{sandbox.clumio_url}/connections/aws/org-deployment-parameters",
                            json={"aws_org_id": ORG_ID}, headers=CLUMIO_HEADERS, timeout=10)
    response.raise_for_status()
    body: dict[str, str] = response.json()
    return body


def template_url(sandbox: Any, asset_types: list[str] | None = None) -> str:
    response = requests.post(f"{sandbox.clumio_url}/connections/aws/templates",
                             json={"asset_types_enabled": asset_types or ["EBS", "S3"],
                                   "organization_template": True}, headers=CLUMIO_HEADERS, timeout=10)
    response.raise_for_status()
    return str(response.json()["cloudformation_url"])


def create_clumio_stack_set(sandbox: Any, name: str = "clumio", *, managed_execution: bool = False,
                            retain_on_removal: bool = False, token: str | None = None, **kwargs: Any) -> Any:
    """The seed's StackSet: Clumio's org template, ClumioToken/RoleExternalId from Clumio, service-managed."""
    params = deployment_parameters(sandbox)
    cf = kwargs.pop("client", None) or sandbox.client("cloudformation")
    cf.create_stack_set(
        StackSetName=name, TemplateURL=template_url(sandbox), PermissionModel="SERVICE_MANAGED",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": retain_on_removal},
        ManagedExecution={"Active": managed_execution},
        Parameters=[{"ParameterKey": "ClumioToken", "ParameterValue": token or params["token"]},
                    {"ParameterKey": "RoleExternalId", "ParameterValue": params["external_id"]}],
        **kwargs)
    return cf


def wait_for_operation(sandbox: Any, cf: Any, operation_id: str, name: str = "clumio", step: float = 10,
                       limit: float = 100_000, **call: Any) -> dict[str, Any]:
    """Advance the virtual clock until the operation leaves RUNNING/QUEUED/STOPPING; return it."""
    waited = 0.0
    while True:
        op: dict[str, Any] = cf.describe_stack_set_operation(StackSetName=name, OperationId=operation_id,
                                                             **call)["StackSetOperation"]
        if op["Status"] not in ("RUNNING", "QUEUED", "STOPPING") or waited > limit:
            return op
        sandbox.world.clock.advance(step)
        waited += step


def instances(cf: Any, name: str = "clumio", **kwargs: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stack instance, followed through NextToken, keyed by (account, region)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    token = None
    while True:
        page = cf.list_stack_instances(StackSetName=name, **kwargs, **({"NextToken": token} if token else {}))
        for summary in page["Summaries"]:
            out[(summary["Account"], summary["Region"])] = summary
        token = page.get("NextToken")
        if not token:
            return out


def detailed(summaries: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {k: v["StackInstanceStatus"]["DetailedStatus"] for k, v in summaries.items()}


def deploy(sandbox: Any, cf: Any, ous: list[str], regions: list[str], name: str = "clumio",
           **kwargs: Any) -> dict[str, Any]:
    """CreateStackInstances and wait for the operation to end."""
    op_id = cf.create_stack_instances(StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": ous,
                                                                            **kwargs.pop("targets", {})},
                                      Regions=regions, **kwargs)["OperationId"]
    return wait_for_operation(sandbox, cf, op_id, name)
