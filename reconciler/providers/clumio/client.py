"""The Clumio REST API on urllib3: bearer token from the environment, versioned Accept headers, urllib3 retries,
``_links._next`` pagination, and typed models out (reference/clumio-api.md)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from sys import intern
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

import msgspec
from urllib3.util.retry import Retry

from reconciler.core.errors import (
    CredentialsExpired,
    EndpointUnreachable,
    PreflightError,
    ProviderError,
    ReconcilerError,
)
from reconciler.core.live import ClumioTemplateInfo, Connection, ConnectionStatus
from reconciler.core.ports import ClumioTemplate, DeploymentParameters
from reconciler.core.secrets import Secret
from reconciler.core.template import template_sha256
from reconciler.providers.clumio.transport import Reply, Transport, Unreachable, make_retry, text_of
from reconciler.providers.clumio.urls import resolve_api_url

log = logging.getLogger(__name__)

TOKEN_REJECTED = "Clumio rejected the API token (expired or wrong portal?)"
PAGE_LIMIT = 100
ACCOUNTS_PER_FILTER = 100  # account ids per `$in` filter: keeps the query string a few KB
LIST_WORKERS = 8
# Connections kept to the API host: one listing's LIST_WORKERS lanes, or discovery's CONNECTION_LANES listings
# (discover/live.py, 8) beside the template read, each on a connection of its own.
POOL_SIZE = LIST_WORKERS * 2
OU_CONTEXT_HEADER = "x-clumio-organizationalunit-context"


class ClumioClient:
    """Implements the Clumio port. The token is read from the environment variable the config names; it is sent
    only to the Clumio API (never to template URLs) and appears in no message or log."""

    def __init__(self, api_url: str, token_env: str = "CLUMIO_API_TOKEN", *,
                 on_call: Callable[[str], None] | None = None, retry: Retry | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.base_url = resolve_api_url(api_url, dict(env))
        self.token_env = token_env
        raw = env.get(token_env, "")
        self._token = Secret(raw.strip()) if raw.strip() else None
        self._on_call = on_call
        # urllib3 directly, not requests (DEVELOPERS-NOTES, #16): the proxies, NO_PROXY and CA bundle of the process
        # environment are read once here with requests' meaning; the template download, to another host, resolves
        # its own proxy (_fetch).
        self._http = Transport(self.base_url, retry or make_retry(), POOL_SIZE)

    @property
    def retry(self) -> Retry:
        """The urllib3 retry policy every call goes through."""
        return self._http.retry

    # --- transport ---------------------------------------------------------------------------------------------

    def _auth(self) -> str:
        if self._token is None:
            raise ReconcilerError(f"the Clumio API token is not set: environment variable {self.token_env} is empty",
                                  hint=f"export {self.token_env}=<API token from the Clumio portal: Settings → "
                                       "API Tokens>")
        return "Bearer " + self._token.reveal()

    def _scrub(self, text: str) -> str:
        if self._token is not None and self._token.reveal():
            text = text.replace(self._token.reveal(), "****")
        return text

    def _request(self, operation: str, method: str, path: str, resource: str, *, query: str | None = None,
                 body: Any = None, decode: Callable[[bytes], Any] = json.loads) -> Any:
        """One Clumio call; ``resource`` names the versioned media type (``aws-connections`` …, ``*`` for all);
        ``query`` is already encoded; ``decode`` reads the body (a ValueError from it means the body is not JSON)."""
        # Both Clumio SDKs always send the OU context, empty for the Global OU (clumio-api.md §1): so do we.
        headers = {"Accept": f"application/api.clumio.{resource}=v1+json", "Authorization": self._auth(),
                   OU_CONTEXT_HEADER: ""}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._on_call is not None:
            self._on_call(f"clumio.{operation}")
        try:
            reply = self._http.send(method, f"{path}?{query}" if query else path, headers,
                                    json.dumps(body).encode() if body is not None else None)
        except Unreachable as error:
            raise EndpointUnreachable(f"cannot reach the Clumio API ({method} {path}): {self._scrub(error.name)}",
                                hint=f"check the network and clumio.api_url / CLUMIO_API_URL ({self.base_url})"
                                ) from None
        if reply.status >= 400:
            raise self._error(reply, method, path)
        try:
            # From the bytes: json and msgspec read UTF-8 (json also UTF-16/32) without a decoded copy of the page.
            return decode(reply.data)
        except ValueError:
            raise ProviderError(f"{self.base_url} answered {method} {path} with a body that is not JSON",
                                hint="check clumio.api_url / CLUMIO_API_URL: it must be the API host "
                                     "(e.g. https://us-west-2.api.clumio.com), not the portal") from None

    def _error(self, reply: Reply, method: str, path: str) -> ProviderError:
        detail = _error_detail(reply.data)
        status = reply.status
        if status in (401, 403):
            return CredentialsExpired(f"{TOKEN_REJECTED}: HTTP {status}{self._scrub(detail)}",
                                 hint=f"create a new API token in the Clumio portal that serves {self.base_url} and "
                                      f"export it as {self.token_env}")
        if status == 429 or status >= 500:
            return ProviderError(f"Clumio kept failing {method} {path} (HTTP {status}{self._scrub(detail)}) after "
                                 "retries", hint="Clumio may be degraded; run again in a few minutes")
        if status in (404, 406):
            return ProviderError(f"Clumio refused {method} {path}: HTTP {status}{self._scrub(detail)}",
                                 hint=f"check clumio.api_url / CLUMIO_API_URL ({self.base_url}): it must be the "
                                      "Clumio API base URL for your portal")
        return ProviderError(f"Clumio refused {method} {path}: HTTP {status}{self._scrub(detail)}")

    def _fetch(self, operation: str, url: str) -> str:
        """A template body from a (pre-signed S3) URL: a plain GET, without the Clumio token."""
        if self._on_call is not None:
            self._on_call(f"clumio.{operation}")
        try:
            reply = self._http.fetch(url)
        except Unreachable as error:
            raise ProviderError(f"cannot download the Clumio template: {error.name}") from None
        if reply.status >= 400:
            raise ProviderError(f"downloading the Clumio template failed: HTTP {reply.status}",
                                hint="the template URL Clumio returned may have expired; run again")
        return text_of(reply)

    # --- the port ----------------------------------------------------------------------------------------------

    def check_token(self) -> None:
        try:
            self.latest_template()
        except ProviderError as error:
            if TOKEN_REJECTED in error.message:
                raise PreflightError(error.message, error.hint) from None
            raise

    def latest_template(self) -> ClumioTemplateInfo:
        """GET /connections/aws/templates: the latest template versions Clumio offers (§3.2)."""
        data = self._request("ListTemplates", "GET", "/connections/aws/templates", "aws-templates")
        return ClumioTemplateInfo(version=_version(data))

    def org_template(self, asset_types: Sequence[str]) -> ClumioTemplate:
        """POST /connections/aws/templates for an organization template, then download the CloudFormation body."""
        data = self._request("CreateTemplate", "POST", "/connections/aws/templates", "aws-templates",
                             body={"asset_types_enabled": list(asset_types), "organization_template": True})
        url = data.get("cloudformation_url") or data.get("deployable_cloudformation_url")
        if not url:
            raise ProviderError("Clumio returned no CloudFormation template URL for the organization template",
                                hint="check clumio.asset_types in the config")
        body = self._fetch("DownloadTemplate", url)
        return ClumioTemplate(version=_version(data), body=body,
                              sha256=template_sha256(body), url=url)

    def org_deployment_parameters(self, org_id: str) -> DeploymentParameters:
        """PUT /connections/aws/org-deployment-parameters {aws_org_id} → ClumioToken and RoleExternalId (§3.1)."""
        data = self._request("OrgDeploymentParameters", "PUT", "/connections/aws/org-deployment-parameters", "*",
                             body={"aws_org_id": org_id})
        token, external_id = data.get("token"), data.get("external_id")
        if not token or not external_id:
            raise ProviderError(f"Clumio returned no deployment parameters for organization {org_id}",
                                hint="check organization.id and that the Clumio account may onboard it")
        return DeploymentParameters(token=Secret(str(token)), external_id=Secret(str(external_id)))

    def list_connections(self, accounts: Sequence[str] | None = None,
                         regions: Sequence[str] | None = None) -> list[Connection]:
        """Every connection of ``accounts`` (all when None) in ``regions`` (all when None), sorted by id.

        Accounts go in `$in` filters of up to 100 ids, read concurrently; each listing follows ``_links._next``.
        """
        base: dict[str, Any] = {}
        if regions:
            base["aws_region"] = {"$in": sorted(set(regions))}
        if accounts is None:
            filters = [base]
        else:
            ids = sorted(set(accounts))
            if not ids:
                return []
            filters = [{"account_native_id": {"$in": ids[i:i + ACCOUNTS_PER_FILTER]}, **base}
                       for i in range(0, len(ids), ACCOUNTS_PER_FILTER)]
        if len(filters) == 1:
            pages = [self._list(filters[0])]
        else:
            with ThreadPoolExecutor(max_workers=LIST_WORKERS, thread_name_prefix="clumio-list") as pool:
                pages = list(pool.map(self._list, filters))
        found = {c.id: c for batch in pages for c in batch}
        return [found[k] for k in sorted(found)]

    def delete_connection(self, connection_id: str) -> None:
        """DELETE /connections/aws/{id} (§3.3): the last step of Clumio's off-boarding; 404 means already gone."""
        try:
            self._request("DeleteConnection", "DELETE", f"/connections/aws/{connection_id}", "aws-connections")
        except ProviderError as error:
            if "HTTP 404" not in error.message:
                raise

    def _list(self, flt: Mapping[str, Any]) -> list[Connection]:
        params: dict[str, str] = {"limit": str(PAGE_LIMIT)}
        if flt:
            params["filter"] = json.dumps(flt, separators=(",", ":"), sort_keys=True)
        # The query (a `$in` filter of 100 account ids is ~2.5 KB once percent-encoded) is encoded once per listing,
        # not once per page; each page only appends its ``start``.
        query = urlencode(params)
        out: list[Connection] = []
        page = query
        while True:
            rows, start = self._request("ListConnections", "GET", "/connections/aws", "aws-connections", query=page,
                                        decode=_connections_page)
            out.extend(rows)
            if start is None:
                return out
            page = f"{query}&{urlencode({'start': start})}"


# A connections page decoded straight into the fields a Connection is made of (msgspec skips the rest of each item
# without building it): 0.16 ms instead of 1.1 ms for json.loads of a 100-connection page, ~1,700 pages at 10,000 ×
# 17. The fields stay untyped (Any) so each value is converted exactly as from json.loads (_connection); a page this
# shape does not fit — or that is not UTF-8 — is read with json.loads and the dict path, with the same result.
class _ConfigFields(msgspec.Struct):
    installed_template_version: Any = None


class _ConnectionFields(msgspec.Struct):
    id: Any = None
    account_native_id: Any = ""
    aws_region: Any = ""
    connection_status: Any = "unknown"
    config: _ConfigFields | None = None
    created_timestamp: Any = None
    stack_arn: Any = None
    stack_name: Any = None
    retired_stack_arn: Any = None
    connection_group_id: Any = None

    def get(self, name: str, default: Any = None) -> Any:
        """``dict.get`` for :func:`_connection`: each field's default above is the one _connection passes."""
        value = getattr(self, name)
        if name == "config":
            return {"installed_template_version": value.installed_template_version} if value is not None else None
        return value


class _Embedded(msgspec.Struct):
    items: list[_ConnectionFields] = []


class _Next(msgspec.Struct):
    href: Any = None


class _Links(msgspec.Struct, rename={"next": "_next"}):
    next: _Next | None = None


class _ConnectionsPage(msgspec.Struct, rename={"embedded": "_embedded", "links": "_links"}):
    embedded: _Embedded | None = None
    links: _Links | None = None


_PAGE_DECODER = msgspec.json.Decoder(_ConnectionsPage)


def _connections_page(raw: bytes) -> tuple[list[Connection], str | None]:
    """The connections of one ListConnections page and the ``start`` of the next (None on the last)."""
    try:
        page = _PAGE_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        data = json.loads(raw)  # a ValueError here: not JSON, as before
        return [_connection(item) for item in (data.get("_embedded") or {}).get("items", [])], _next_start(data)
    items = page.embedded.items if page.embedded is not None else []
    nxt = page.links.next if page.links is not None else None
    return [_connection(item) for item in items], _start_of(nxt.href if nxt is not None else None)


def _next_start(data: Mapping[str, Any]) -> str | None:
    """The opaque ``start`` of the next page, taken from ``_links._next.href`` (clumio-api.md §1)."""
    return _start_of(((data.get("_links") or {}).get("_next") or {}).get("href"))


def _start_of(nxt: Any) -> str | None:
    """The first non-blank ``start`` of the href's query, read as ``parse_qs`` reads it (``+`` and ``%XX``
    unquoted), without splitting and unquoting the rest: a listing's next href carries its ~2.5 KB filter."""
    if not nxt:
        return None
    for field in urlsplit(nxt).query.split("&"):
        name, equals, value = field.partition("=")
        if equals and value and (name == "start" or (("%" in name or "+" in name) and unquote_plus(name) == "start")):
            return unquote_plus(value)
    return None


def _version(data: Mapping[str, Any]) -> str:
    version = (data.get("config") or {}).get("available_template_version")
    if not version:
        raise ProviderError("Clumio returned no available_template_version for the AWS template")
    return str(version)


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _connection(item: Mapping[str, Any] | _ConnectionFields) -> Connection:
    # Accounts, regions and versions repeat over every connection (and the instances): one string each, interned.
    account = intern(str(item.get("account_native_id", "")))
    region = intern(str(item.get("aws_region", "")))
    config = item.get("config") or {}
    version = config.get("installed_template_version")
    return Connection(
        id=str(item.get("id") or f"{account}_{region}"),
        account=account,
        region=region,
        status=ConnectionStatus(str(item.get("connection_status", "unknown"))),
        installed_template_version=intern(version) if isinstance(version, str) else version,
        created=_timestamp(item.get("created_timestamp")),
        stack_arn=intern(str(item.get("stack_arn"))) if item.get("stack_arn") else None,  # the instance's StackId
        stack_name=str(item.get("stack_name")) if item.get("stack_name") else None,
        retired_stack_arn=str(item.get("retired_stack_arn")) if item.get("retired_stack_arn") else None,
        connection_group_id=str(item.get("connection_group_id")) if item.get("connection_group_id") else None,
    )


def _error_detail(data: bytes) -> str:
    """``: <error_message> (code N)`` from Clumio's documented error body, or nothing."""
    try:
        errors = json.loads(data).get("errors") or []
    except (ValueError, AttributeError):
        return ""
    parts = [f"{e.get('error_message', '')} (code {e.get('error_code', '?')})" for e in errors if isinstance(e, dict)]
    return (": " + "; ".join(parts)) if parts else ""
