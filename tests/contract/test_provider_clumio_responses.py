"""The Clumio client against a scripted HTTP server on loopback (reference/clumio-api.md): versioned Accept headers
(§1), bearer token, `_links._next` pagination with `$in` filters (§1, §3.3), templates (§3.2), deployment parameters
(§3.1), retries on 429/5xx and dropped connections done by urllib3 on the wire (§7), and errors that never carry a
secret."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from urllib3.util.retry import Retry

from reconciler.core.errors import EndpointUnreachable, PreflightError, ProviderError, ReconcilerError
from reconciler.core.live import ConnectionStatus
from reconciler.providers.clumio.client import ClumioClient, make_retry
from reconciler.providers.clumio.transport import ClumioRetry
from tests.contract.scripted_http import ScriptedServer, scripted_server

TOKEN = "eyJhbGciOi.secret-api-token.sig"
CLUMIO_TOKEN = "3f1c9a7e-0b7d-4c1a-9d55-2e8f5b6a7c01"
EXTERNAL_ID = "ext-7d1e0c5b-secret"
TEMPLATE_PATH = "/clumio-templates/org/24.4/clumio-org-template.yaml"
BODY = "AWSTemplateFormatVersion: '2010-09-09'\nMetadata:\n  ClumioTemplateVersion: '24.4'\nResources: {}\n"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as running:
        yield running


def client(server: ScriptedServer, *, token: str | None = TOKEN, calls: list[str] | None = None,
           **env: str) -> ClumioClient:
    environ = {"CLUMIO_API_TOKEN": token} if token is not None else {}
    environ["CLUMIO_API_URL"] = server.url
    environ.update(env)
    on_call = calls.append if calls is not None else None
    return ClumioClient("east.portal.clumio.com", "CLUMIO_API_TOKEN", on_call=on_call,
                        retry=make_retry(total=3, backoff_factor=0), environ=environ)


def conn(account: str, region: str, status: str = "connected", version: str = "24.4") -> dict[str, Any]:
    return {"id": f"{account}_{region}", "account_native_id": account, "aws_region": region,
            "connection_status": status, "config": {"installed_template_version": version},
            "created_timestamp": "2026-01-01T00:00:00Z", "token": CLUMIO_TOKEN}


def page(items: list[dict[str, Any]], next_start: str | None = None) -> dict[str, Any]:
    links: dict[str, Any] = {"_self": {"href": "/connections/aws", "templated": False, "type": "get"}}
    if next_start:
        links["_next"] = {"href": f"/connections/aws?limit=100&start={next_start}", "templated": False,
                          "type": "get"}
    return {"_embedded": {"items": items}, "_links": links, "current_count": len(items), "limit": 100}


def test_connections_follow_next_links_with_versioned_accept_and_bearer_token(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws", json_body=page([conn("111111111111", "us-east-1")], "p2"))
    server.answer("GET", "/connections/aws",
                  json_body=page([conn("111111111111", "us-west-2", "connecting", "24.3")]))
    calls: list[str] = []
    found = client(server, calls=calls).list_connections(["111111111111"])
    assert [(c.id, c.status, c.installed_template_version) for c in found] == [
        ("111111111111_us-east-1", ConnectionStatus.CONNECTED, "24.4"),
        ("111111111111_us-west-2", ConnectionStatus.CONNECTING, "24.3")]
    first, second = server.calls
    assert first.headers["Accept"] == "application/api.clumio.aws-connections=v1+json"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.headers["x-clumio-organizationalunit-context"] == ""  # as both SDKs send it (§1)
    assert first.headers["User-Agent"] == "clumio-org"
    assert json.loads(first.query["filter"][0]) == {"account_native_id": {"$in": ["111111111111"]}}
    assert second.query["start"] == ["p2"]  # the opaque start taken from _links._next
    assert calls == ["clumio.ListConnections", "clumio.ListConnections"]


def test_the_listing_query_is_sent_form_encoded_as_before(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws", json_body=page([conn("111111111111", "us-east-1")], "p=2&x"))
    server.answer("GET", "/connections/aws", json_body=page([]))
    client(server).list_connections(["111111111111", "222222222222"], regions=["us-east-1"])
    flt = '{"account_native_id":{"$in":["111111111111","222222222222"]},"aws_region":{"$in":["us-east-1"]}}'
    first, second = server.calls
    assert first.raw_query == urlencode({"limit": "100", "filter": flt})  # every byte as urlencode gives it
    assert second.raw_query == urlencode({"limit": "100", "filter": flt}) + "&start=p%3D2"
    assert second.query["start"] == ["p=2"]


def test_many_accounts_are_asked_for_in_batches_of_one_hundred(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws", json_body=page([]))
    accounts = [f"{i:012d}" for i in range(250)]
    client(server).list_connections(accounts, regions=["us-west-2", "us-east-1"])
    batches = [json.loads(c.query["filter"][0]) for c in server.calls]
    assert sorted(len(b["account_native_id"]["$in"]) for b in batches) == [50, 100, 100]
    assert all(b["aws_region"] == {"$in": ["us-east-1", "us-west-2"]} for b in batches)
    assert sorted(a for b in batches for a in b["account_native_id"]["$in"]) == accounts


def test_unknown_connection_status_does_not_fail_the_listing(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws",
                  json_body=page([conn("111111111111", "us-east-1", "suspended_by_clumio")]))
    (found,) = client(server).list_connections()
    assert found.status is ConnectionStatus.UNKNOWN


def test_retries_on_429_and_503_then_succeeds(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws/templates", status=429, headers={"Retry-After": "0"},
                  json_body={"errors": [{"error_code": 429, "error_message": "Too many requests"}]})
    server.answer("GET", "/connections/aws/templates", status=503, body="unavailable")
    server.answer("GET", "/connections/aws/templates", json_body={"config": {"available_template_version": "24.4"}})
    assert client(server).latest_template().version == "24.4"
    assert len(server.calls) == 3
    assert server.calls[0].headers["Accept"] == "application/api.clumio.aws-templates=v1+json"


def test_a_dropped_connection_is_retried(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws/templates", drop=True)
    server.answer("GET", "/connections/aws/templates", json_body={"config": {"available_template_version": "24.4"}})
    assert client(server).latest_template().version == "24.4"
    assert len(server.calls) == 2


def test_persistent_5xx_becomes_a_provider_error_after_retries(server: ScriptedServer) -> None:
    server.answer("PUT", "/connections/aws/org-deployment-parameters", status=502,
                  json_body={"errors": [{"error_code": 5002, "error_message": "bad gateway"}]})
    with pytest.raises(ProviderError) as error:
        client(server).org_deployment_parameters("o-abc123xyz9")
    assert error.value.message == ("Clumio kept failing PUT /connections/aws/org-deployment-parameters "
                                   "(HTTP 502: bad gateway (code 5002)) after retries")
    assert len(server.calls) == 4  # the first try and 3 retries: the PUT is safe to repeat


def test_retry_after_is_honoured_but_capped() -> None:
    retry = make_retry()
    assert isinstance(retry, ClumioRetry) and retry.respect_retry_after_header
    assert {429, 500, 502, 503, 504} <= set(retry.status_forcelist or ())

    class Headers(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key, default)

    class Response:
        headers = Headers({"Retry-After": "86400"})

    assert retry.get_retry_after(Response()) == ClumioRetry.RETRY_AFTER_MAX
    assert isinstance(retry, Retry)


def test_org_template_is_generated_for_the_organization_and_downloaded_without_the_token(
        server: ScriptedServer) -> None:
    url = server.url + TEMPLATE_PATH
    server.answer("POST", "/connections/aws/templates",
                  json_body={"cloudformation_url": url, "config": {"available_template_version": "24.4"}})
    server.answer("GET", TEMPLATE_PATH, body=BODY, content_type="text/yaml")
    template = client(server).org_template(["EC2/EBS", "S3"])
    assert template.version == "24.4" and template.body == BODY and template.url == url
    assert template.sha256 == hashlib.sha256(BODY.encode()).hexdigest()
    generate, download = server.calls
    assert json.loads(generate.body) == {"asset_types_enabled": ["EC2/EBS", "S3"], "organization_template": True}
    assert generate.headers["Content-Type"] == "application/json"
    assert "Authorization" not in download.headers  # the token goes only to Clumio
    assert download.headers["User-Agent"] == "clumio-org"


def test_a_redirect_to_another_host_is_followed_without_the_token(server: ScriptedServer) -> None:
    with scripted_server() as elsewhere:
        elsewhere.answer("GET", "/templates", json_body={"config": {"available_template_version": "24.4"}})
        server.answer("GET", "/connections/aws/templates", status=307,
                      headers={"Location": elsewhere.url + "/templates"})
        assert client(server).latest_template().version == "24.4"
        (moved,) = elsewhere.calls
    assert "Authorization" not in moved.headers and server.calls[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_deployment_parameters_are_secrets(server: ScriptedServer) -> None:
    server.answer("PUT", "/connections/aws/org-deployment-parameters",
                  json_body={"token": CLUMIO_TOKEN, "external_id": EXTERNAL_ID})
    params = client(server).org_deployment_parameters("o-abc123xyz9")
    assert params.token.reveal() == CLUMIO_TOKEN and params.external_id.reveal() == EXTERNAL_ID
    assert CLUMIO_TOKEN not in repr(params) and EXTERNAL_ID not in str(params)
    assert json.loads(server.calls[0].body) == {"aws_org_id": "o-abc123xyz9"}


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token_is_explained_and_never_echoed(server: ScriptedServer, status: int) -> None:
    server.answer("GET", "/connections/aws/templates", status=status,
                  json_body={"errors": [{"error_code": 359, "error_message": f"token {TOKEN} is not valid"}]})
    with pytest.raises(PreflightError) as error:
        client(server).check_token()
    text = f"{error.value.message} {error.value.hint}"
    assert "Clumio rejected the API token (expired or wrong portal?)" in text
    assert error.value.message == f"Clumio rejected the API token (expired or wrong portal?): HTTP {status}: " \
                                  "token **** is not valid (code 359)"
    assert "CLUMIO_API_TOKEN" in (error.value.hint or "")
    assert TOKEN not in text and TOKEN not in repr(error.value)
    assert len(server.calls) == 1


def test_client_errors_show_clumio_error_message_and_code(server: ScriptedServer) -> None:
    server.answer("PUT", "/connections/aws/org-deployment-parameters", status=400,
                  json_body={"errors": [{"error_code": 4001, "error_message": "Invalid AWS organization id"}]})
    with pytest.raises(ProviderError, match=r"HTTP 400: Invalid AWS organization id \(code 4001\)"):
        client(server).org_deployment_parameters("o-wrong")
    assert len(server.calls) == 1  # a 400 is not retried


def test_missing_token_names_the_variable(server: ScriptedServer) -> None:
    with pytest.raises(ReconcilerError) as error:
        client(server, token=None).latest_template()
    assert "CLUMIO_API_TOKEN" in error.value.message and error.value.hint
    assert server.calls == []


def test_clumio_api_url_overrides_the_config(server: ScriptedServer) -> None:
    server.answer("GET", "/clumio/connections/aws/templates",
                  json_body={"config": {"available_template_version": "24.3"}})
    assert client(server, CLUMIO_API_URL=server.url + "/clumio/").latest_template().version == "24.3"


def _closed_port() -> str:
    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_unreachable_clumio_is_a_provider_error_without_secrets(server: ScriptedServer) -> None:
    with pytest.raises(EndpointUnreachable) as error:
        client(server, CLUMIO_API_URL=_closed_port()).latest_template()
    assert error.value.message == "cannot reach the Clumio API (GET /connections/aws/templates): ConnectionError"
    assert TOKEN not in str(error.value)


def test_an_answer_cut_short_is_named_as_before(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws/templates", truncate=True,
                  json_body={"config": {"available_template_version": "24.4"}})
    with pytest.raises(EndpointUnreachable) as error:
        client(server).latest_template()
    assert error.value.message == ("cannot reach the Clumio API (GET /connections/aws/templates): "
                                   "ChunkedEncodingError")


def test_a_portal_page_instead_of_the_api_points_at_the_url_setting(server: ScriptedServer) -> None:
    server.answer("GET", "/connections/aws/templates", body="<html>Clumio</html>", content_type="text/html")
    with pytest.raises(ProviderError) as error:
        client(server).latest_template()
    assert "not JSON" in error.value.message and "clumio.api_url" in (error.value.hint or "")
