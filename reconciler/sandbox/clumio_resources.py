"""The Clumio sandbox's resources as the Clumio SDKs model them: AWS connections, connection groups, AWS environments
and organizational units, with the list filters each endpoint documents (reference/clumio-api.md §3.3, §3.5, §3.6).

The HTTP routing lives in ``clumio.py``; here are the records, their JSON shapes and the filter language.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

GLOBAL_OU = "00000000-0000-0000-0000-000000000000"
CLUMIO_AWS_ACCOUNT = "000011112222"  # the (made-up) AWS account Clumio's control and data planes run in
_NAMESPACE = uuid.UUID("0d5e3c6a-2b1f-4e7a-9c8d-1f2e3d4c5b6a")

# Request asset type names (§5), case-insensitive on input, echoed canonical.
REQUEST_ASSET_TYPES = ("EC2/EBS", "EBS", "RDS", "DynamoDB", "EC2MSSQL", "S3", "IcebergOnGlue", "IcebergOnS3Tables")
_CANONICAL = {name.upper(): name for name in REQUEST_ASSET_TYPES}
# asset type -> (config key(s) in responses, services_enabled filter value)
_ASSET_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "EC2/EBS": (("ebs", "ec2"), "ebs"), "EBS": (("ebs", "ec2"), "ebs"), "RDS": (("rds",), "rds"),
    "DynamoDB": (("dynamodb",), "dynamodb"), "EC2MSSQL": (("ec2_mssql",), "ec2mssql"), "S3": (("s3",), "s3"),
    "IcebergOnGlue": (("iceberg_on_glue",), "iceberg_on_glue"),
    "IcebergOnS3Tables": (("iceberg_on_s3_tables",), "iceberg_on_s3_tables"),
}
CONFIG_KEYS = ("ebs", "ec2", "rds", "s3", "dynamodb", "ec2_mssql", "iceberg_on_glue", "iceberg_on_s3_tables",
               "warm_tier_protect")
# Per-asset template versions Clumio reports next to the org template version (§3.2; TFT pins).
ASSET_VERSIONS = {"ebs": "25.4", "ec2": "25.4", "rds": "21.1", "s3": "7.6", "dynamodb": "7.4", "ec2_mssql": "4.4",
                  "iceberg_on_glue": "1.0", "iceberg_on_s3_tables": "1.0", "warm_tier_protect": "1.1"}


class ClumioInputError(ValueError):
    """A request Clumio answers with 400 (the message goes into the error body)."""


def canonical_asset_types(values: Any, *, field_name: str = "asset_types_enabled") -> list[str]:
    """Request asset types as Clumio names them (§5); unknown names and EC2MSSQL without EC2/EBS are 400."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ClumioInputError(f"{field_name} must be a list of strings")
    out = []
    for value in values:
        name = _CANONICAL.get(value.upper())
        if name is None:
            raise ClumioInputError(f"{value!r} is not a valid asset type for {field_name}; valid values are "
                                   + ", ".join(REQUEST_ASSET_TYPES))
        if name not in out:
            out.append(name)
    if "EC2MSSQL" in out and not {"EC2/EBS", "EBS"} & set(out):
        raise ClumioInputError("EC2MSSQL requires EC2/EBS")
    return out


def template_to_request_types(blocks: tuple[str, ...]) -> list[str]:
    """The sandbox template's asset blocks (EBS, RDS, …) as request names (EC2/EBS, RDS, …)."""
    return ["EC2/EBS" if b == "EBS" else b for b in blocks]


def template_config(current: str, asset_types: list[str]) -> dict[str, Any]:
    """``config`` of a templates response (§3.2): the available versions, overall and per asset block."""
    config: dict[str, Any] = {"available_template_version": current, "asset_types_enabled": asset_types}
    for key in CONFIG_KEYS:
        config[key] = {"available_template_version": ASSET_VERSIONS[key]}
    config["warm_tier_protect"].update(asset_types_enabled=["DynamoDB"],
                                       dynamodb={"available_template_version": ASSET_VERSIONS["dynamodb"]})
    return config


def link(href: str, kind: str = "get") -> dict[str, Any]:
    return {"href": href, "type": kind, "templated": False}


# Mutable: a connection moves connecting → connected → unlinked as the world changes.
@dataclass(slots=True)
class Connection:
    account: str
    region: str
    created: datetime
    connected_at: datetime | None  # None: created through the API, waiting for its stack
    installed_version: str | None
    stack_arn: str | None
    unlinked_at: datetime | None = None
    asset_types: tuple[str, ...] = ()  # request names (EC2/EBS, RDS, S3, DynamoDB, EC2MSSQL …)
    token: str = ""
    external_id: str = ""
    description: str = ""
    organizational_unit_id: str = GLOBAL_OU
    services_enabled: tuple[str, ...] = ("discover", "protect")
    connection_group_id: str | None = None
    retired_stack_arn: str | None = None
    deployment_type: str = "stack_set"

    @property
    def id(self) -> str:
        return f"{self.account}_{self.region}"

    def status(self, now: datetime) -> str:
        if self.unlinked_at is not None and now >= self.unlinked_at:
            return "unlinked"
        return "connected" if self.connected_at is not None and now >= self.connected_at else "connecting"


def connection_json(connection: Connection, now: datetime, account_name: str, *,
                    external_id: bool = False) -> dict[str, Any]:
    """The SDKs' ``AWSConnection`` (§3.3): every field, null where it does not apply."""
    status = connection.status(now)
    href = f"/connections/aws/{connection.id}"
    done = "completed" if status == "connected" else "in_progress" if status == "connecting" else "initial"
    connected = status == "connected"
    blocks = [a for a in connection.asset_types]
    installed = connection.installed_version
    config: dict[str, Any] = {"installed_template_version": installed,
                              "asset_types_enabled": blocks}
    enabled_keys = {key for a in blocks for key in _ASSET_KEYS[a][0]}
    for key in CONFIG_KEYS:
        config[key] = {"installed_template_version": ASSET_VERSIONS[key]} if key in enabled_keys and installed \
            else None
    resources = None
    if connected:
        account, region = connection.account, connection.region
        resources = {
            "clumio_iam_role_arn": f"arn:aws:iam::{account}:role/ClumioIAMRole-{region}",
            "clumio_event_pub_arn": f"arn:aws:sns:{region}:{account}:ClumioEventPub",
            "clumio_support_role_arn": f"arn:aws:iam::{account}:role/ClumioSupportRole-{region}",
            "event_rules": {}, "service_roles": {}}
    legacy = {"asset_types_enabled": blocks, "installed_template_version": installed} if installed else None
    protect = None if legacy is None or "protect" not in connection.services_enabled else {
        **legacy, "ebs": config["ebs"], "rds": config["rds"]}
    body: dict[str, Any] = {
        "_links": {"_self": link(href), "update-connection-aws": link(href, "patch"),
                   "delete-connection-aws": link(href, "delete"),
                   "read-organizational-unit": link(f"/organizational-units/{connection.organizational_unit_id}")},
        "id": connection.id, "account_native_id": connection.account, "aws_region": connection.region,
        "account_name": account_name, "description": connection.description,
        "organizational_unit_id": connection.organizational_unit_id, "connection_status": status,
        "connection_management_status": "managed", "deployment_type": connection.deployment_type,
        "ingestion_status": done, "target_setup_status": done,
        "token": connection.token, "external_id": connection.external_id if external_id else None,
        "connection_group_id": connection.connection_group_id,
        "clumio_aws_account_id": CLUMIO_AWS_ACCOUNT, "clumio_aws_region": connection.region,
        "data_plane_account_id": CLUMIO_AWS_ACCOUNT,
        "stack_arn": connection.stack_arn,
        "stack_name": connection.stack_arn.split("/")[1] if connection.stack_arn else None,
        "retired_stack_arn": connection.retired_stack_arn,
        "created_timestamp": connection.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "namespace": "aws", "template_permission_set": "all",
        "protect_asset_types_enabled": [a for a in blocks] if "protect" in connection.services_enabled else [],
        "services_enabled": list(connection.services_enabled),
        "config": config, "discover": legacy, "protect": protect, "resources": resources,
    }
    return body


def connection_facts(connection: Connection, now: datetime, account_name: str) -> dict[str, Any]:
    """The filterable fields of a connection (§3.3 table), without rendering the whole object."""
    return {"account_native_id": connection.account, "aws_region": connection.region,
            "account_alias": account_name, "connection_status": connection.status(now),
            "connection_type": ["discover", "protect"] if "protect" in connection.services_enabled else ["discover"],
            "organizational_unit_id": connection.organizational_unit_id,
            "services_enabled": [_ASSET_KEYS[a][1] for a in connection.asset_types]}


@dataclass
class ConnectionGroup:
    """A multi-region connection group (§3.5): one stack in the master account covers its regions."""

    id: str
    account: str
    master_account: str
    master_region: str
    regions: tuple[str, ...]
    asset_types: tuple[str, ...]
    description: str
    organizational_unit_id: str
    template_permission_set: str
    created: datetime
    external_id: str = field(default="")


def group_json(group: ConnectionGroup, base_url: str, stack_arn: str | None, *,
               external_id: bool = False) -> dict[str, Any]:
    href = f"/connections/aws/connection-groups/{group.id}"
    return {
        "_links": {"_self": link(href), "update-aws-connection-group": link(href, "put"),
                   "read-organizational-unit": link(f"/organizational-units/{group.organizational_unit_id}")},
        "_etag": str(uuid.uuid5(_NAMESPACE, f"etag/{group.id}")),
        "id": group.id, "account_native_id": group.account, "account_native_ids": [group.account],
        "master_aws_account_id": group.master_account, "master_region": group.master_region,
        "aws_regions": list(group.regions), "intended_aws_regions": list(group.regions),
        "asset_types": list(group.asset_types), "intended_asset_types": list(group.asset_types),
        "description": group.description, "organizational_unit_id": group.organizational_unit_id,
        "template_permission_set": group.template_permission_set,
        "external_id": group.external_id if external_id else None,
        "deployment_template_url": f"{base_url}/clumio-templates/groups/{group.id}/template.yaml",
        "status": "installed" if stack_arn else "pending", "ongoing_stack_operation": None,
        "stack_arn": stack_arn, "stack_name": stack_arn.split("/")[1] if stack_arn else None,
        "config": {"asset_types_enabled": list(group.asset_types)},
    }


def group_facts(group: ConnectionGroup, account_name: str) -> dict[str, Any]:
    return {"account_native_id": group.account, "organizational_unit_id": group.organizational_unit_id,
            "account_alias": account_name, "services_enabled": [_ASSET_KEYS[a][1] for a in group.asset_types]}


def environment_id(connection: Connection) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"environment/{connection.id}"))


def environment_json(connection: Connection, now: datetime, account_name: str) -> dict[str, Any]:
    """The SDKs' ``AWSEnvironment`` (§3.6): a connected connection as a data source."""
    env_id = environment_id(connection)
    version = connection.installed_version or "0"
    return {
        "_links": {"_self": link(f"/datasources/aws/environments/{env_id}"),
                   "read-aws-connection": link(f"/connections/aws/{connection.id}"),
                   "read-organizational-unit": link(f"/organizational-units/{connection.organizational_unit_id}")},
        "id": env_id, "account_native_id": connection.account, "aws_region": connection.region,
        "account_name": account_name, "connection_id": connection.id,
        "connection_status": "installed" if connection.status(now) == "connected" else connection.status(now),
        "connection_management_status": "managed", "description": connection.description,
        "services_enabled": list(connection.services_enabled),
        "template_version": int(version.split(".")[0]), "template_permission_set": "all",
        "organizational_unit_id": connection.organizational_unit_id,
        "config": {"installed_template_version": connection.installed_version,
                   "asset_types_enabled": list(connection.asset_types)},
    }


def environment_facts(connection: Connection, now: datetime) -> dict[str, Any]:
    status = connection.status(now)
    return {"account_native_id": connection.account, "aws_region": connection.region,
            "connection_status": "installed" if status == "connected" else status,
            "services_enabled": [_ASSET_KEYS[a][1] for a in connection.asset_types]}


def global_ou_json(user_count: int = 1) -> dict[str, Any]:
    """The tenant's one OU, the Global OU every resource belongs to when no OU context is given (§1, §3.6)."""
    href = f"/organizational-units/{GLOBAL_OU}"
    return {"_links": {"_self": link(href)}, "_etag": "1", "id": GLOBAL_OU, "name": "Global Organizational Unit",
            "description": "The root organizational unit", "parent_id": None, "children_count": 0,
            "descendant_ids": [], "configured_datasource_types": ["aws"], "user_count": user_count,
            "users": [], "task_id": None}


def global_ou_facts() -> dict[str, Any]:
    return {"parent_id": None, "name": "Global Organizational Unit", "id": GLOBAL_OU}


# --- the filter language (§1 D-FLT): {"<field>": {"<$op>": value}} -------------------------------------------

Facts = Mapping[str, Any]
Schema = Mapping[str, tuple[str, ...]]  # field -> operators the endpoint documents for it

CONNECTION_FILTERS: Schema = {
    "account_native_id": ("$begins_with", "$in"), "aws_region": ("$in",), "account_alias": ("$contains",),
    "connection_type": ("$eq",), "connection_status": ("$eq", "$in"), "organizational_unit_id": ("$in",),
    "services_enabled": ("$contains",),
}
GROUP_FILTERS: Schema = {"account_native_id": ("$in",), "organizational_unit_id": ("$in",),
                         "account_alias": ("$contains",), "services_enabled": ("$contains", "$eq")}
ENVIRONMENT_FILTERS: Schema = {"account_native_id": ("$eq", "$begins_with"), "aws_region": ("$eq",),
                               "connection_status": ("$eq",), "services_enabled": ("$contains",)}
OU_FILTERS: Schema = {"parent_id": ("$eq",), "name": ("$contains",), "id": ("$in",)}


def compile_filter(flt: Any, schema: Schema) -> Callable[[Facts], bool]:
    """A predicate over a record's facts; a field or operator the endpoint does not document is a 400."""
    if not isinstance(flt, dict):
        raise ClumioInputError("filter must be a JSON object")
    checks: list[Callable[[Facts], bool]] = []
    for name, condition in flt.items():
        if name not in schema or not isinstance(condition, dict):
            raise ClumioInputError(f"field {name!r} cannot be filtered; filterable: {', '.join(sorted(schema))}")
        for op, value in condition.items():
            if op not in schema[name]:
                raise ClumioInputError(f"operator {op} is not supported on {name}; use {', '.join(schema[name])}")
            checks.append(_check(name, op, value))
    return lambda facts: all(check(facts) for check in checks)


def _check(name: str, op: str, value: Any) -> Callable[[Facts], bool]:
    if op == "$in":
        if not isinstance(value, list):
            raise ClumioInputError(f"$in on {name} needs a list")
        allowed = {str(v) for v in value}
        return lambda facts: _values(facts[name]) & allowed != set()
    if isinstance(value, list | dict):
        raise ClumioInputError(f"{op} on {name} needs a single value")
    text = str(value)
    if op == "$eq":
        return lambda facts: text in _values(facts[name])
    if op == "$contains":  # a list field holds the value; a text field holds it as a substring
        return lambda facts: (text in facts[name] if isinstance(facts[name], list | tuple)
                              else text in str(facts[name] or ""))
    return lambda facts: any(v.startswith(text) for v in _values(facts[name]))  # $begins_with


def _values(value: Any) -> set[str]:
    if value is None:
        return {""}
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    return {str(value)}

# --- one list envelope for every endpoint (§1) -------------------------------------------------------------

Row = tuple[Facts, Callable[[], dict[str, Any]]]  # a record's filterable facts, and how to render it


def list_envelope(query: Mapping[str, list[str]], path: str, rows: Iterable[Row], schema: Schema, *,
                  totals: bool = False) -> dict[str, Any]:
    """``_embedded.items`` of one page, ``_links`` with ``_next`` while more match, counts; ``limit``/``start``/
    ``filter`` from the query. Records are filtered on their facts and only the page is rendered: rendering every
    connection for every page made a 34,000-connection listing cost ~0.6 s per page (benchmarks/plan_scale.py)."""
    try:
        limit = int((query.get("limit") or ["20"])[0])
        start = int(base64.urlsafe_b64decode((query.get("start") or ["MA=="])[0]).decode() or 0)
    except ValueError:
        raise ClumioInputError("limit must be an integer and start a token from _links._next") from None
    if not 1 <= limit <= 100:
        raise ClumioInputError("limit must be between 1 and 100")
    raw = (query.get("filter") or [""])[0]
    keep = compile_filter(parse_filter(raw), schema)
    matched = [render for facts, render in rows if keep(facts)]
    page = [render() for render in matched[start:start + limit]]
    base = f"{path}?limit={limit}" + (f"&filter={quote(raw)}" if raw else "")
    links: dict[str, Any] = {"_self": link(base), "_first": link(base)}
    if start + limit < len(matched):
        token = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        links["_next"] = link(f"{base}&start={token}")
    body: dict[str, Any] = {"_embedded": {"items": page}, "_links": links, "current_count": len(page),
                            "limit": limit, "start": (query.get("start") or [""])[0], "filter_applied": raw}
    if totals:
        body.update(total_count=len(matched), total_pages_count=max(1, -(-len(matched) // limit)))
    return body


def parse_filter(raw: str) -> dict[str, Any]:
    try:
        flt = json.loads(raw) if raw else {}
    except ValueError:
        raise ClumioInputError("Invalid filter: not JSON") from None
    if not isinstance(flt, dict):
        raise ClumioInputError("Invalid filter: filter must be a JSON object")
    return flt


def manual_resources(account: str, region: str, asset_types: list[str]) -> dict[str, Any]:
    """What a manual (non-CloudFormation) connection must create (TF ``clumio_aws_manual_connection_resources``)."""
    return {
        "roles": {"clumio_iam_role": f"ClumioIAMRole-{account}-{region}",
                  "clumio_support_role": f"ClumioSupportRole-{account}-{region}"},
        "policies": {"clumio_inventory_policy": f"ClumioInventoryPolicy-{region}",
                     "asset_policies": sorted(asset_types)},
        "rules": {"clumio_event_rule": f"ClumioEventRule-{region}"},
        "ssm_documents": {}, "topics": {"clumio_event_pub": f"ClumioEventPub-{region}"},
    }
