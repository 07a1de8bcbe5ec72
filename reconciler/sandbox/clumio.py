"""The sandbox's Clumio REST API (reference/clumio-api.md): deployment parameters, templates, connections."""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from reconciler.sandbox.api import ClumioRequest, ClumioResponse, ObjectStore
from reconciler.sandbox.template import normalise_asset_types, render_clumio_template

TEMPLATE_BUCKET = "clumio-templates"
GLOBAL_OU = "00000000-0000-0000-0000-000000000000"
ACCEPT_RE = re.compile(r"application/api\.clumio\.(\*|[a-z0-9-]+)=v[0-9]+(&[a-z0-9-]+=v[0-9]+)*\+json")
# Per-asset template versions the catalog reports next to the org template version (clumio-api.md §3.2).
ASSET_VERSIONS = {"ebs": "25.4", "rds": "21.1", "s3": "7.6", "dynamodb": "7.4", "ec2_mssql": "4.4"}
_NAMESPACE = uuid.UUID("6f1c2d4e-8a57-4c1b-9e0f-3a2b1c0d9e8f")


# Mutable: a connection moves connecting → connected → unlinked as the world changes.
@dataclass(slots=True)
class Connection:
    account: str
    region: str
    created: datetime
    connected_at: datetime
    installed_version: str | None
    stack_arn: str | None
    unlinked_at: datetime | None = None
    asset_types: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.account}_{self.region}"

    def status(self, now: datetime) -> str:
        if self.unlinked_at is not None and now >= self.unlinked_at:
            return "unlinked"
        return "connected" if now >= self.connected_at else "connecting"


def _error(status: int, code: int, message: str) -> ClumioResponse:
    body = json.dumps({"errors": [{"error_code": code, "error_message": message}]}).encode()
    return ClumioResponse(status, body, {"Content-Type": "application/json"})


def _ok(body: dict[str, Any], resource: str) -> ClumioResponse:
    return ClumioResponse(200, json.dumps(body, default=str).encode(),
                          {"Content-Type": f"application/api.clumio.{resource}=v1+json"})


class ClumioService:
    """One Clumio tenant connected to the sandbox's AWS Organization."""

    def __init__(self, api_token: str, org_id: str, versions: list[str], current: str, objects: ObjectStore,
                 account_names: Callable[[str], str], rng: random.Random) -> None:
        self.api_token = api_token
        self.org_id = org_id
        self.versions = list(versions)
        self.current = current
        self.objects = objects
        self.account_names = account_names
        self.rng = rng
        self.error_rate = 0.0
        self.connections: dict[str, Connection] = {}
        # Indexes for listings at scale: connections by account, and all of them sorted by id (rebuilt lazily).
        self._by_account: dict[str, list[Connection]] = {}
        self._sorted: list[Connection] | None = None
        self.connect_seconds = 30.0
        # API tokens revoked by the revoke-clumio-token event, and new ones it issued (the tenant's token stays the
        # one ClumioToken/RoleExternalId derive from: revoking an API token does not change the org's parameters).
        self.revoked_tokens: set[str] = set()
        self.extra_tokens: set[str] = set()
        objects.create_bucket(TEMPLATE_BUCKET)
        for version in self.versions:
            self.publish(version, None)

    # --- secrets for the org StackSet ---------------------------------------------------------------------
    @cached_property
    def token(self) -> str:
        """ClumioToken for the organization: stable per org, a 36-character UUID."""
        return str(uuid.uuid5(_NAMESPACE, f"token/{self.org_id}/{self.api_token}"))

    @cached_property
    def external_id(self) -> str:
        """RoleExternalId for the organization: stable per org."""
        return "ExternalID_" + uuid.uuid5(_NAMESPACE, f"external/{self.org_id}/{self.api_token}").hex

    # --- template catalog ---------------------------------------------------------------------------------
    def publish(self, version: str, asset_types: list[str] | None) -> str:
        """Store the template for ``version`` in the sandbox S3 and return its key."""
        chosen = normalise_asset_types(asset_types)
        key = f"org/{version}/{'-'.join(a.lower() for a in chosen)}/clumio-org-template.yaml"
        self.objects.put(TEMPLATE_BUCKET, key, render_clumio_template(version, chosen).encode(),
                         content_type="application/x-yaml")
        return key

    def release(self, version: str) -> None:
        if version not in self.versions:
            self.versions.append(version)
        self.current = version
        self.publish(version, None)

    # --- connections (driven by stack events) -------------------------------------------------------------
    def stack_deployed(self, account: str, region: str, version: str | None, stack_arn: str | None,
                       at: datetime, asset_types: tuple[str, ...] = ()) -> None:
        existing = self.connections.get(f"{account}_{region}")
        if existing is not None and existing.unlinked_at is None:
            # A template update keeps the connection connected and records what is installed now.
            existing.installed_version, existing.stack_arn = version, stack_arn
            existing.asset_types = asset_types or existing.asset_types
            return
        connection = Connection(account, region, at, at + timedelta(seconds=self.connect_seconds), version,
                                stack_arn, asset_types=asset_types)
        if existing is None:
            self._by_account.setdefault(account, []).append(connection)
        else:
            self._by_account[account] = [c for c in self._by_account.get(account, []) if c is not existing]
            self._by_account[account].append(connection)
        self.connections[connection.id] = connection
        self._sorted = None

    def stack_deleted(self, account: str, region: str, at: datetime) -> None:
        connection = self.connections.get(f"{account}_{region}")
        if connection is not None and connection.unlinked_at is None:
            connection.unlinked_at = at

    # --- HTTP ---------------------------------------------------------------------------------------------
    def handle(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        auth = request.headers.get("authorization", "")
        if not auth.strip():
            return _error(403, 359, "The authentication token is missing")
        bearer = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if bearer in self.revoked_tokens:
            return _error(401, 360, "The authentication token has expired or was revoked")
        if bearer != self.api_token and bearer not in self.extra_tokens:
            return _error(401, 360, "The authentication token is invalid")
        accept = request.headers.get("accept", "")
        if not ACCEPT_RE.search(accept):
            return _error(406, 406, "Missing or unsupported Accept header; use "
                                    "application/api.clumio.<resource>=v1+json")
        if self.error_rate and self.rng.random() < self.error_rate:
            if self.rng.random() < 0.5:
                return _error(429, 429, "Too many requests, please retry later")
            return _error(503, 503, "Service temporarily unavailable")
        path = "/" + request.path.strip("/")
        if path == "/connections/aws/org-deployment-parameters" and request.method == "PUT":
            return self._deployment_parameters(request)
        if path == "/connections/aws/templates" and request.method in ("GET", "POST"):
            return self._templates(request)
        if path == "/connections/aws" and request.method == "GET":
            return self._list(request, now)
        match = re.fullmatch(r"/connections/aws/([0-9]{12}_[a-z0-9-]+)", path)
        if match and request.method == "GET":
            connection = self.connections.get(match.group(1))
            if connection is None:
                return _error(404, 404, f"Connection {match.group(1)} not found")
            return _ok({**self._connection(connection, now), "_etag": str(hash(connection.id) & 0xFFFFFFFF)},
                       "aws-connections")
        return _error(404, 404, f"{request.method} {path} is not an endpoint of the Clumio sandbox")

    def _json(self, request: ClumioRequest) -> dict[str, Any] | None:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _deployment_parameters(self, request: ClumioRequest) -> ClumioResponse:
        body = self._json(request)
        if body is None:
            return _error(400, 400, "Request body is not valid JSON")
        org_id = body.get("aws_org_id")
        if org_id != self.org_id:
            return _error(400, 400, f"The AWS organization {org_id!r} is not the one registered with this Clumio "
                                    f"account")
        return _ok({"token": self.token, "external_id": self.external_id}, "aws-connections")

    def _config(self, asset_types: list[str] | None) -> dict[str, Any]:
        config: dict[str, Any] = {"available_template_version": self.current,
                                  "asset_types_enabled": list(normalise_asset_types(asset_types))}
        for key, version in ASSET_VERSIONS.items():
            config[key] = {"available_template_version": version}
        return config

    def _templates(self, request: ClumioRequest) -> ClumioResponse:
        links = {"_self": {"href": "/connections/aws/templates", "type": request.method.lower(),
                           "templated": False}}
        if request.method == "GET":
            return _ok({"_links": links, "config": self._config(None)}, "aws-templates")
        body = self._json(request)
        if body is None:
            return _error(400, 400, "Request body is not valid JSON")
        asset_types = body.get("asset_types_enabled")
        if asset_types is not None and not isinstance(asset_types, list):
            return _error(400, 400, "asset_types_enabled must be a list")
        key = self.publish(self.current, asset_types)
        host = request.headers.get("host", "127.0.0.1")
        url = f"http://{host}/{TEMPLATE_BUCKET}/{key}"
        return _ok({"_links": links, "cloudformation_url": url, "deployable_cloudformation_url": url,
                    "terraform_url": None, "group_token": None, "config": self._config(asset_types),
                    "resources": None}, "aws-templates")

    def _connection(self, connection: Connection, now: datetime) -> dict[str, Any]:
        status = connection.status(now)
        href = f"/connections/aws/{connection.id}"
        done = "completed" if status == "connected" else "in_progress" if status == "connecting" else "initial"
        return {
            "_links": {"_self": {"href": href, "type": "get", "templated": False}},
            "id": connection.id, "account_native_id": connection.account, "aws_region": connection.region,
            "account_name": self.account_names(connection.account), "description": "",
            "organizational_unit_id": GLOBAL_OU, "connection_status": status,
            "connection_management_status": "managed", "deployment_type": "stack_set",
            "ingestion_status": done, "target_setup_status": done,
            "clumio_aws_region": connection.region, "stack_arn": connection.stack_arn,
            "stack_name": (connection.stack_arn or "/").split("/")[1] or None,
            "created_timestamp": connection.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "template_permission_set": "all", "services_enabled": ["discover", "protect"],
            "config": self._installed_config(connection),
        }

    def _installed_config(self, connection: Connection) -> dict[str, Any]:
        """config.installed_template_version plus per-asset versions for the asset blocks the stack runs (§3.3)."""
        enabled = [a.lower() for a in connection.asset_types or ("EBS", "RDS", "S3")]
        config: dict[str, Any] = {"installed_template_version": connection.installed_version,
                                  "asset_types_enabled": enabled}
        for key, version in ASSET_VERSIONS.items():
            config[key] = {"installed_template_version": version} if key in enabled else None
        return config

    def _list(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        try:
            limit = int((request.query.get("limit") or ["20"])[0])
            start = int(base64.urlsafe_b64decode((request.query.get("start") or ["MA=="])[0]).decode() or 0)
        except ValueError:
            return _error(400, 400, "limit must be an integer and start a token from _links._next")
        if not 1 <= limit <= 100:
            return _error(400, 400, "limit must be between 1 and 100")
        raw_filter = (request.query.get("filter") or [""])[0]
        try:
            flt = json.loads(raw_filter) if raw_filter else {}
            keep = _filter(flt)
        except ValueError as exc:
            return _error(400, 400, f"Invalid filter: {exc}")
        # Filter on the three filterable fields only: rendering every connection for every page made a 34,000-
        # connection listing cost ~0.6 s per page (benchmarks/plan_scale.py).
        items = [c for c in self._candidates(flt)
                 if keep({"account_native_id": c.account, "aws_region": c.region,
                          "connection_status": c.status(now)})]
        page = [self._connection(c, now) for c in items[start:start + limit]]
        base = f"/connections/aws?limit={limit}" + (f"&filter={quote(raw_filter)}" if raw_filter else "")
        links: dict[str, Any] = {"_self": {"href": base, "type": "get", "templated": False},
                                 "_first": {"href": base, "type": "get", "templated": False}}
        if start + limit < len(items):
            token = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            links["_next"] = {"href": f"{base}&start={token}", "type": "get", "templated": False}
        return _ok({"_embedded": {"items": page}, "_links": links, "current_count": len(page), "limit": limit,
                    "start": (request.query.get("start") or [""])[0], "filter_applied": raw_filter},
                   "aws-connections")


    def _candidates(self, flt: dict[str, Any]) -> list[Connection]:
        """Connections that may match, sorted by id: only the named accounts' when the filter names accounts."""
        accounts = flt.get("account_native_id", {})
        named = accounts.get("$in") if isinstance(accounts.get("$in"), list) else (
            [accounts["$eq"]] if "$eq" in accounts else None)
        if named is not None:
            found = [c for a in {str(v) for v in named} for c in self._by_account.get(a, [])]
            return sorted(found, key=lambda c: c.id)
        if self._sorted is None:
            self._sorted = sorted(self.connections.values(), key=lambda c: c.id)
        return self._sorted


_FILTERABLE = {"account_native_id": ("$in", "$eq", "$begins_with"), "aws_region": ("$in", "$eq"),
               "connection_status": ("$in", "$eq")}


def _filter(flt: Any) -> Callable[[dict[str, Any]], bool]:
    if not isinstance(flt, dict):
        raise ValueError("filter must be a JSON object")
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for field, cond in flt.items():
        if field not in _FILTERABLE or not isinstance(cond, dict):
            raise ValueError(f"field {field!r} cannot be filtered")
        for op, value in cond.items():
            if op not in _FILTERABLE[field]:
                raise ValueError(f"operator {op} is not supported on {field}")
            if op == "$in":
                if not isinstance(value, list):
                    raise ValueError(f"$in on {field} needs a list")
                allowed = {str(v) for v in value}
                checks.append(lambda c, f=field, a=allowed: str(c[f]) in a)  # type: ignore[misc]
            elif op == "$eq":
                checks.append(lambda c, f=field, v=value: str(c[f]) == str(v))  # type: ignore[misc]
            else:
                checks.append(lambda c, f=field, v=value: str(c[f]).startswith(str(v)))  # type: ignore[misc]
    return lambda c: all(check(c) for check in checks)
