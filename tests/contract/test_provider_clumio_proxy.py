"""The Clumio client reads the proxy settings once, with requests' meaning: HTTP(S)_PROXY carries the calls to the
API host, NO_PROXY naming that host sends them direct (the environment is no longer scanned on every call)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reconciler.core.errors import EndpointUnreachable
from reconciler.providers.clumio.client import ClumioClient, make_retry

API = "http://clumio-api.invalid"


class _Proxy(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Proxy.seen.append(self.path)
        body = json.dumps({"config": {"available_template_version": "24.4"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/api.clumio.aws-templates=v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture()
def proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Proxy.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _client() -> ClumioClient:
    return ClumioClient(API, "TOKEN", retry=make_retry(total=0, backoff_factor=0), environ={"TOKEN": "t"})


def test_calls_go_through_the_proxy_the_environment_names(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    clumio = _client()
    assert clumio.latest_template().version == "24.4"
    assert clumio.latest_template().version == "24.4"
    assert _Proxy.seen == [f"{API}/connections/aws/templates"] * 2


def test_no_proxy_for_the_api_host_goes_direct(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "clumio-api.invalid")
    with pytest.raises(EndpointUnreachable):
        _client().latest_template()  # straight to a host that does not exist
    assert _Proxy.seen == []
