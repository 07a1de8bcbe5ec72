"""The Clumio client against recorded-style responses (reference/clumio-api.md): versioned Accept headers (§1), bearer
token, `_links._next` pagination with `$in` filters (§1, §3.3), templates (§3.2), deployment parameters (§3.1),
retries on 429/5xx (§7), and errors that never carry a secret."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from urllib3.util.retry import Retry

from reconciler.core.errors import PreflightError, ProviderError, ReconcilerError
from reconciler.core.live import ConnectionStatus
from reconciler.providers.clumio.client import ClumioClient, ClumioRetry, make_retry

BASE = "https://us-east-1.api.clumio.com"
TOKEN = "eyJhbGciOi.secret-api-token.sig"
CLUMIO_TOKEN = "3f1c9a7e-0b7d-4c1a-9d55-2e8f5b6a7c01"
EXTERNAL_ID = "ext-7d1e0c5b-secret"
TEMPLATE_URL = "https://clumio-templates.s3.amazonaws.com/org/24.4/clumio-org-template.yaml"
BODY = "AWSTemplateFormatVersion: '2010-09-09'\nMetadata:\n  ClumioTemplateVersion: '24.4'\nResources: {}\n"


def client(*, token: str | None = TOKEN, calls: list[str] | None = None, **env: str) -> ClumioClient:
    environ = {"CLUMIO_API_TOKEN": token} if token is not None else {}
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


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@responses.activate
def test_connections_follow_next_links_with_versioned_accept_and_bearer_token() -> None:
    responses.get(f"{BASE}/connections/aws", json=page([conn("111111111111", "us-east-1")], "p2"))
    responses.get(f"{BASE}/connections/aws", json=page([conn("111111111111", "us-west-2", "connecting", "24.3")]))
    calls: list[str] = []
    found = client(calls=calls).list_connections(["111111111111"])
    assert [(c.id, c.status, c.installed_template_version) for c in found] == [
        ("111111111111_us-east-1", ConnectionStatus.CONNECTED, "24.4"),
        ("111111111111_us-west-2", ConnectionStatus.CONNECTING, "24.3")]
    first, second = responses.calls
    assert first.request.headers["Accept"] == "application/api.clumio.aws-connections=v1+json"
    assert first.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.request.headers["x-clumio-organizationalunit-context"] == ""  # as both SDKs send it (§1)
    assert json.loads(query(first)["filter"][0]) == {"account_native_id": {"$in": ["111111111111"]}}
    assert query(second)["start"] == ["p2"]  # the opaque start taken from _links._next
    assert calls == ["clumio.ListConnections", "clumio.ListConnections"]


@responses.activate
def test_many_accounts_are_asked_for_in_batches_of_one_hundred() -> None:
    responses.get(f"{BASE}/connections/aws", json=page([]))
    accounts = [f"{i:012d}" for i in range(250)]
    client().list_connections(accounts, regions=["us-west-2", "us-east-1"])
    batches = [json.loads(query(c)["filter"][0]) for c in responses.calls]
    assert sorted(len(b["account_native_id"]["$in"]) for b in batches) == [50, 100, 100]
    assert all(b["aws_region"] == {"$in": ["us-east-1", "us-west-2"]} for b in batches)
    assert sorted(a for b in batches for a in b["account_native_id"]["$in"]) == accounts


@responses.activate
def test_unknown_connection_status_does_not_fail_the_listing() -> None:
    responses.get(f"{BASE}/connections/aws", json=page([conn("111111111111", "us-east-1", "suspended_by_clumio")]))
    (found,) = client().list_connections()
    assert found.status is ConnectionStatus.UNKNOWN


@responses.activate
def test_retries_on_429_and_503_then_succeeds() -> None:
    responses.get(f"{BASE}/connections/aws/templates", status=429, headers={"Retry-After": "0"},
                  json={"errors": [{"error_code": 429, "error_message": "Too many requests"}]})
    responses.get(f"{BASE}/connections/aws/templates", status=503, body="unavailable")
    responses.get(f"{BASE}/connections/aws/templates", json={"config": {"available_template_version": "24.4"}})
    assert client().latest_template().version == "24.4"
    assert len(responses.calls) == 3
    assert responses.calls[0].request.headers["Accept"] == "application/api.clumio.aws-templates=v1+json"


@responses.activate
def test_persistent_5xx_becomes_a_provider_error_after_retries() -> None:
    responses.put(f"{BASE}/connections/aws/org-deployment-parameters", status=502,
                  json={"errors": [{"error_code": 5002, "error_message": "bad gateway"}]})
    with pytest.raises(ProviderError) as error:
        client().org_deployment_parameters("o-abc123xyz9")
    assert "HTTP 502" in error.value.message and "after retries" in error.value.message
    assert len(responses.calls) == 4  # the first try and 3 retries: the PUT is safe to repeat


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


@responses.activate
def test_org_template_is_generated_for_the_organization_and_downloaded_without_the_token() -> None:
    responses.post(f"{BASE}/connections/aws/templates",
                   json={"cloudformation_url": TEMPLATE_URL, "config": {"available_template_version": "24.4"}})
    responses.get(TEMPLATE_URL, body=BODY)
    template = client().org_template(["EC2/EBS", "S3"])
    assert template.version == "24.4" and template.body == BODY and template.url == TEMPLATE_URL
    import hashlib

    assert template.sha256 == hashlib.sha256(BODY.encode()).hexdigest()
    generate, download = responses.calls
    assert json.loads(generate.request.body) == {"asset_types_enabled": ["EC2/EBS", "S3"],
                                                 "organization_template": True}
    assert "Authorization" not in download.request.headers  # the token goes only to Clumio


@responses.activate
def test_deployment_parameters_are_secrets() -> None:
    responses.put(f"{BASE}/connections/aws/org-deployment-parameters",
                  json={"token": CLUMIO_TOKEN, "external_id": EXTERNAL_ID})
    params = client().org_deployment_parameters("o-abc123xyz9")
    assert params.token.reveal() == CLUMIO_TOKEN and params.external_id.reveal() == EXTERNAL_ID
    assert CLUMIO_TOKEN not in repr(params) and EXTERNAL_ID not in str(params)
    assert json.loads(responses.calls[0].request.body) == {"aws_org_id": "o-abc123xyz9"}


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token_is_explained_and_never_echoed(status: int) -> None:
    responses.get(f"{BASE}/connections/aws/templates", status=status,
                  json={"errors": [{"error_code": 359, "error_message": f"token {TOKEN} is not valid"}]})
    with pytest.raises(PreflightError) as error:
        client().check_token()
    text = f"{error.value.message} {error.value.hint}"
    assert "Clumio rejected the API token (expired or wrong portal?)" in text
    assert "CLUMIO_API_TOKEN" in (error.value.hint or "")
    assert TOKEN not in text and TOKEN not in repr(error.value)


@responses.activate
def test_client_errors_show_clumio_error_message_and_code() -> None:
    responses.put(f"{BASE}/connections/aws/org-deployment-parameters", status=400,
                  json={"errors": [{"error_code": 4001, "error_message": "Invalid AWS organization id"}]})
    with pytest.raises(ProviderError, match=r"HTTP 400: Invalid AWS organization id \(code 4001\)"):
        client().org_deployment_parameters("o-wrong")
    assert len(responses.calls) == 1  # a 400 is not retried


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(ReconcilerError) as error:
        client(token=None).latest_template()
    assert "CLUMIO_API_TOKEN" in error.value.message and error.value.hint


@responses.activate
def test_clumio_api_url_overrides_the_config() -> None:
    responses.get("http://127.0.0.1:9999/clumio/connections/aws/templates",
                  json={"config": {"available_template_version": "24.3"}})
    assert client(CLUMIO_API_URL="http://127.0.0.1:9999/clumio/").latest_template().version == "24.3"


@responses.activate
def test_unreachable_clumio_is_a_provider_error_without_secrets() -> None:
    with pytest.raises(ProviderError) as error:
        client().latest_template()  # responses refuses unregistered URLs like a dead network
    assert "cannot reach the Clumio API" in error.value.message and TOKEN not in str(error.value)


@responses.activate
def test_a_portal_page_instead_of_the_api_points_at_the_url_setting() -> None:
    responses.get(f"{BASE}/connections/aws/templates", body="<html>Clumio</html>", content_type="text/html")
    with pytest.raises(ProviderError) as error:
        client().latest_template()
    assert "not JSON" in error.value.message and "clumio.api_url" in (error.value.hint or "")
