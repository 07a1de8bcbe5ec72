"""The sandbox's Clumio REST API (reference/clumio-api.md): deployment parameters, templates, connections,
connection groups, AWS environments and organizational units, with the SDKs' header conventions."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from reconciler.sandbox.api import ClumioRequest, ClumioResponse, ObjectStore
from reconciler.sandbox.clumio_requests import REGION, new_group, template_request
from reconciler.sandbox.clumio_resources import (
    CONNECTION_FILTERS,
    ENVIRONMENT_FILTERS,
    GLOBAL_OU,
    GROUP_FILTERS,
    OU_FILTERS,
    ClumioInputError,
    Connection,
    ConnectionGroup,
    Schema,
    canonical_asset_types,
    connection_facts,
    connection_json,
    environment_facts,
    environment_id,
    environment_json,
    global_ou_facts,
    global_ou_json,
    group_facts,
    group_json,
    list_envelope,
    parse_filter,
    template_config,
    template_to_request_types,
)
from reconciler.sandbox.template import normalise_asset_types, render_clumio_template

__all__ = ["GLOBAL_OU", "TEMPLATE_BUCKET", "ClumioService", "Connection"]

TEMPLATE_BUCKET = "clumio-templates"
ACCEPT_RE = re.compile(r"application/api\.clumio\.(\*|[a-z0-9-]+)=v[0-9]+(&[a-z0-9-]+=v[0-9]+)*\+json")
OU_CONTEXT = "x-clumio-organizationalunit-context"  # both SDKs send it, empty when unset (§1)
_NAMESPACE = uuid.UUID("6f1c2d4e-8a57-4c1b-9e0f-3a2b1c0d9e8f")
_CONNECTION_PATH = re.compile(r"/connections/aws/([0-9]{12}_[a-z0-9-]+)")
_GROUP_PATH = re.compile(r"/connections/aws/connection-groups/([0-9a-f-]{36})")
_ENVIRONMENT_PATH = re.compile(r"/datasources/aws/environments/([0-9a-f-]{36})")
_OU_PATH = re.compile(r"/organizational-units/([0-9a-f-]{36})")


def _error(status: int, code: int, message: str) -> ClumioResponse:
    body = json.dumps({"errors": [{"error_code": code, "error_message": message}]}).encode()
    return ClumioResponse(status, body, {"Content-Type": "application/json"})


def _ok(body: dict[str, Any], resource: str) -> ClumioResponse:
    return ClumioResponse(200, json.dumps(body, default=str).encode(),
                          {"Content-Type": f"application/api.clumio.{resource}=v1+json"})


def _flag(request: ClumioRequest, name: str) -> bool:
    return (request.query.get(name) or ["false"])[0].lower() == "true"


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
        self.groups: dict[str, ConnectionGroup] = {}
        # Indexes for listings at scale: connections by account, and all of them sorted by id (rebuilt lazily).
        self._by_account: dict[str, list[Connection]] = {}
        self._sorted: list[Connection] | None = None
        self.connect_seconds = 30.0
        # API tokens revoked by the revoke-clumio-token event, and new ones it issued (the tenant's token stays the
        # one ClumioToken/RoleExternalId derive from: revoking an API token does not change the org's parameters).
        self.revoked_tokens: set[str] = set()
        self.extra_tokens: set[str] = set()
        self.issued: set[tuple[str | None, str | None]] = set()  # pairs issued earlier that still connect
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

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def accepts(self, token: str | None, external_id: str | None) -> bool:
        """Whether a stack deployed with these values connects: the org's current pair, or one Clumio issued for
        it earlier (the portal's modal before, say; docs/reference/brownfield.md §4)."""
        return (token, external_id) == (self.token, self.external_id) or (token, external_id) in self.issued

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
        types = tuple(template_to_request_types(asset_types))
        if existing is not None and existing.unlinked_at is None:
            # A template update keeps the connection connected and records what is installed now; a connection
            # made through the API connects once its stack runs. A new stack (a StackSet's instance next to a portal
            # stack, or where Terraform's module made no stack) takes the connection over, and it stays connected:
            # the stack it replaced is reported as retired until it is deleted (docs/reference/brownfield.md §6).
            if stack_arn and existing.stack_arn != stack_arn:
                if existing.stack_arn:
                    existing.retired_stack_arn = existing.stack_arn
                existing.token, existing.external_id = self.token, self.external_id
            existing.installed_version, existing.stack_arn = version, stack_arn
            existing.asset_types = types or existing.asset_types
            if existing.connected_at is None:
                existing.connected_at = at + timedelta(seconds=self.connect_seconds)
            return
        connection = Connection(account, region, at, at + timedelta(seconds=self.connect_seconds), version,
                                stack_arn, asset_types=types or ("EC2/EBS", "RDS", "S3"), token=self.token,
                                external_id=self.external_id)
        self._add(connection, replacing=existing)

    def _add(self, connection: Connection, replacing: Connection | None = None) -> None:
        account = connection.account
        self._by_account[account] = [c for c in self._by_account.get(account, []) if c is not replacing]
        self._by_account[account].append(connection)
        self.connections[connection.id] = connection
        self._sorted = None

    def _remove(self, connection: Connection) -> None:
        self._by_account[connection.account] = [c for c in self._by_account.get(connection.account, [])
                                                if c is not connection]
        del self.connections[connection.id]
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
        context = request.headers.get(OU_CONTEXT, "").strip()
        if context not in ("", GLOBAL_OU):
            return _error(404, 404, f"Organizational unit {context} (header {OU_CONTEXT}) does not exist")
        if self.error_rate and self.rng.random() < self.error_rate:
            if self.rng.random() < 0.5:
                return _error(429, 429, "Too many requests, please retry later")
            return _error(503, 503, "Service temporarily unavailable")
        try:
            return self._route(request, "/" + request.path.strip("/"), now)
        except ClumioInputError as exc:
            return _error(400, 400, str(exc))

    def _route(self, request: ClumioRequest, path: str, now: datetime) -> ClumioResponse:
        method = request.method
        if path == "/connections/aws/org-deployment-parameters" and method == "PUT":
            return self._deployment_parameters(request)
        if path == "/connections/aws/templates" and method in ("GET", "POST"):
            return self._templates(request)
        if path == "/connections/aws" and method == "GET":
            return self._list_connections(request, now)
        if path == "/connections/aws" and method == "POST":
            return self._create_connection(request, now)
        if path == "/connections/aws/connection-groups" and method in ("GET", "POST"):
            return self._list_groups(request) if method == "GET" else self._create_group(request, now)
        if path == "/datasources/aws/environments" and method == "GET":
            return self._list_environments(request, now)
        if path == "/organizational-units" and method == "GET":
            return self._list(request, "/organizational-units", [(global_ou_facts(), global_ou_json)], OU_FILTERS,
                              "organizational-units", totals=True)
        for pattern, handler in ((_CONNECTION_PATH, self._connection_call), (_GROUP_PATH, self._group_call),
                                 (_ENVIRONMENT_PATH, self._environment_call), (_OU_PATH, self._ou_call)):
            match = pattern.fullmatch(path)
            if match:
                return handler(request, match.group(1), now)
        return _error(404, 404, f"{method} {path} is not an endpoint of the Clumio sandbox")

    def _json(self, request: ClumioRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise ClumioInputError("Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ClumioInputError("Request body must be a JSON object")
        return body

    def _deployment_parameters(self, request: ClumioRequest) -> ClumioResponse:
        org_id = self._json(request).get("aws_org_id")
        if org_id != self.org_id:
            return _error(400, 400, f"The AWS organization {org_id!r} is not the one registered with this Clumio "
                                    f"account")
        return _ok({"token": self.token, "external_id": self.external_id}, "aws-connections")

    # --- templates (§3.2) ---------------------------------------------------------------------------------
    def _config(self, asset_types: list[str] | None) -> dict[str, Any]:
        chosen = asset_types if asset_types is not None else template_to_request_types(normalise_asset_types(None))
        return template_config(self.current, chosen)

    def _templates(self, request: ClumioRequest) -> ClumioResponse:
        links = {"_self": {"href": "/connections/aws/templates", "type": request.method.lower(),
                           "templated": False}}
        if request.method == "GET":
            return _ok({"_links": links, "config": self._config(None)}, "aws-templates")
        asset_types, resources = template_request(self._json(request))
        key = self.publish(self.current, asset_types)
        host = request.headers.get("host", "127.0.0.1")
        url = f"http://{host}/{TEMPLATE_BUCKET}/{key}"
        group_token = self._new_uuid() if _flag(request, "return_group_token") else None
        return _ok({"_links": links, "cloudformation_url": url, "deployable_cloudformation_url": url,
                    "terraform_url": None, "group_token": group_token, "config": self._config(asset_types),
                    "resources": resources}, "aws-templates")

    # --- connections (§3.3) -------------------------------------------------------------------------------
    def _connection_json(self, connection: Connection, now: datetime, external_id: bool = False) -> dict[str, Any]:
        return connection_json(connection, now, self.account_names(connection.account), external_id=external_id)

    def _connection_call(self, request: ClumioRequest, connection_id: str, now: datetime) -> ClumioResponse:
        connection = self.connections.get(connection_id)
        if connection is None:
            return _error(404, 404, f"Connection {connection_id} not found")
        if request.method == "GET":
            body = self._connection_json(connection, now, external_id=_flag(request, "return_external_id"))
            return _ok({**body, "_etag": str(uuid.uuid5(_NAMESPACE, f"etag/{connection.id}/{connection.description}"
                                                                    f"/{connection.asset_types}"))},
                       "aws-connections")
        if request.method == "PATCH":
            body = self._json(request)
            if "description" in body:
                if not isinstance(body["description"], str):
                    raise ClumioInputError("description must be a string")
                connection.description = body["description"]
            if body.get("asset_types_enabled") is not None:
                if connection.stack_arn is not None:
                    raise ClumioInputError("asset_types_enabled can be updated only on a manual connection")
                connection.asset_types = tuple(canonical_asset_types(body["asset_types_enabled"]))
            return _ok(self._connection_json(connection, now), "aws-connections")
        if request.method == "DELETE":
            self._remove(connection)
            return _ok({}, "aws-connections")
        return _error(405, 405, f"{request.method} is not allowed on /connections/aws/{connection_id}")

    def _create_connection(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        body = self._json(request)
        account, region = body.get("account_native_id"), body.get("aws_region")
        if not (isinstance(account, str) and re.fullmatch(r"[0-9]{12}", account)):
            raise ClumioInputError("account_native_id must be a 12-digit AWS account id")
        if not (isinstance(region, str) and REGION.fullmatch(region)):
            raise ClumioInputError("aws_region must be an AWS region such as us-west-2")
        ou = body.get("organizational_unit_id") or GLOBAL_OU
        if ou != GLOBAL_OU:
            raise ClumioInputError(f"organizational unit {ou} does not exist")
        existing = self.connections.get(f"{account}_{region}")
        if existing is not None and existing.status(now) != "unlinked":
            return _error(409, 409, f"A connection for account {account} in {region} already exists")
        services = body.get("services_enabled") or ["discover", "protect"]
        if services not in (["discover"], ["discover", "protect"]):
            raise ClumioInputError('services_enabled must be ["discover"] or ["discover", "protect"]')
        types = canonical_asset_types(body.get("protect_asset_types_enabled") or ["EC2/EBS", "RDS"],
                                      field_name="protect_asset_types_enabled")
        token = self._new_uuid()
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise ClumioInputError("description must be a string")
        connection = Connection(account, region, now, None, None, None, asset_types=tuple(types), token=token,
                                external_id=f"ExternalID_{token}", description=description,
                                organizational_unit_id=ou, services_enabled=tuple(services),
                                deployment_type="manual")
        self._add(connection, replacing=existing)
        return _ok(self._connection_json(connection, now), "aws-connections")

    def _list_connections(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        raw = (request.query.get("filter") or [""])[0]
        flt = parse_filter(raw)
        candidates = self._candidates(flt)
        rows = ((connection_facts(c, now, self.account_names(c.account)),
                 lambda c=c: self._connection_json(c, now)) for c in candidates)
        return self._list(request, "/connections/aws", rows, CONNECTION_FILTERS, "aws-connections")

    def _candidates(self, flt: dict[str, Any]) -> list[Connection]:
        """Connections that may match, sorted by id: only the named accounts' when the filter names accounts."""
        accounts = flt.get("account_native_id")
        named = accounts.get("$in") if isinstance(accounts, dict) and isinstance(accounts.get("$in"), list) else None
        if named is not None:
            found = [c for a in {str(v) for v in named} for c in self._by_account.get(a, [])]
            return sorted(found, key=lambda c: c.id)
        if self._sorted is None:
            self._sorted = sorted(self.connections.values(), key=lambda c: c.id)
        return self._sorted

    # --- connection groups (§3.5) -------------------------------------------------------------------------
    def _group_stack(self, group: ConnectionGroup) -> str | None:
        connection = self.connections.get(f"{group.master_account}_{group.master_region}")
        return connection.stack_arn if connection is not None else None

    def _group_json(self, group: ConnectionGroup, external_id: bool = False) -> dict[str, Any]:
        return group_json(group, "", self._group_stack(group), external_id=external_id)

    def _create_group(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        group = new_group(self._json(request), self._new_uuid, now)
        group_id, account, regions, types = group.id, group.account, group.regions, group.asset_types
        self.groups[group_id] = group
        for region in regions:
            if self.connections.get(f"{account}_{region}") is None:
                self._add(Connection(account, region, now, None, None, None, asset_types=tuple(types),
                                     token=group_id, external_id=group.external_id, connection_group_id=group_id,
                                     description=group.description, deployment_type="connection_group"))
        return _ok(self._group_json(group, external_id=True), "aws-connection-groups")

    def _list_groups(self, request: ClumioRequest) -> ClumioResponse:
        rows = ((group_facts(g, self.account_names(g.account)), lambda g=g: self._group_json(g))
                for g in sorted(self.groups.values(), key=lambda g: g.id))
        return self._list(request, "/connections/aws/connection-groups", rows, GROUP_FILTERS,
                          "aws-connection-groups")

    def _group_call(self, request: ClumioRequest, group_id: str, now: datetime) -> ClumioResponse:
        group = self.groups.get(group_id)
        if group is None or request.method != "GET":
            return _error(404, 404, f"Connection group {group_id} not found")
        return _ok(self._group_json(group, external_id=_flag(request, "return_external_id")),
                   "aws-connection-groups")

    # --- environments and OUs (§3.6) ----------------------------------------------------------------------
    def _environments(self, now: datetime) -> list[Connection]:
        """A connection is an environment once it has connected (TF ``clumio_aws_connection/utils.go``)."""
        if self._sorted is None:
            self._sorted = sorted(self.connections.values(), key=lambda c: c.id)
        return [c for c in self._sorted if c.connected_at is not None and now >= c.connected_at]

    def _list_environments(self, request: ClumioRequest, now: datetime) -> ClumioResponse:
        rows = ((environment_facts(c, now), lambda c=c: environment_json(c, now, self.account_names(c.account)))
                for c in self._environments(now))
        return self._list(request, "/datasources/aws/environments", rows, ENVIRONMENT_FILTERS, "aws-environments")

    def _environment_call(self, request: ClumioRequest, env_id: str, now: datetime) -> ClumioResponse:
        for connection in self._environments(now):
            if environment_id(connection) == env_id and request.method == "GET":
                return _ok(environment_json(connection, now, self.account_names(connection.account)),
                           "aws-environments")
        return _error(404, 404, f"AWS environment {env_id} not found")

    def _ou_call(self, request: ClumioRequest, ou_id: str, now: datetime) -> ClumioResponse:
        if ou_id != GLOBAL_OU or request.method != "GET":
            return _error(404, 404, f"Organizational unit {ou_id} not found")
        return _ok(global_ou_json(), "organizational-units")

    def _list(self, request: ClumioRequest, path: str, rows: Iterable[tuple[Any, Callable[[], dict[str, Any]]]],
              schema: Schema, resource: str, *, totals: bool = False) -> ClumioResponse:
        return _ok(list_envelope(request.query, path, rows, schema, totals=totals), resource)
