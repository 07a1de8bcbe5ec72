"""An endpoint that is wrong or down ends in one error line quickly: bounded connect attempts, no urllib3 warnings,
and a malformed AWS_ENDPOINT_URL is a user error, not an internal one."""

from __future__ import annotations

import logging
import socket

import pytest
from botocore.exceptions import EndpointConnectionError

from reconciler.cli.app import main
from reconciler.core.errors import EndpointUnreachable, ReconcilerError
from reconciler.providers.aws.session import CONNECT_ATTEMPTS, check_endpoint_url, make_client, make_session
from reconciler.providers.clumio.client import ClumioClient
from reconciler.providers.clumio.transport import CONNECT_RETRIES
from tests.unit.config.helpers import VALID


def _closed_port() -> str:
    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> str:
    url = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return url


def test_a_refused_aws_endpoint_is_tried_twice_not_ten_times(aws_env: str) -> None:
    client = make_client(make_session("us-east-1", None), "organizations", "us-east-1")
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(EndpointConnectionError):
        client.list_roots()
    assert len(sent) == CONNECT_ATTEMPTS == 2


def test_throttling_still_gets_botocore_retries() -> None:
    from reconciler.providers.aws.session import CLIENT_CONFIG

    assert CLIENT_CONFIG.retries is not None and CLIENT_CONFIG.retries["mode"] == "adaptive"
    assert CLIENT_CONFIG.retries.get("total_max_attempts", CLIENT_CONFIG.retries.get("max_attempts", 0) + 1) == 11
    assert (CLIENT_CONFIG.connect_timeout, CLIENT_CONFIG.read_timeout) == (5, 60)


@pytest.mark.parametrize("value", ["not a url", "127.0.0.1:4566", "ftp://host", "http://"])
def test_a_malformed_endpoint_url_is_a_user_error(value: str) -> None:
    with pytest.raises(ReconcilerError, match="is not an http\\(s\\) URL"):
        check_endpoint_url({"AWS_ENDPOINT_URL": value})
    check_endpoint_url({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "https://s3.local"})


def test_plan_with_a_malformed_endpoint_prints_error_and_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: object,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "clumio-org.yaml"
    config.write_text(VALID)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    monkeypatch.setenv("CLUMIO_API_TOKEN", "fake-token-value")
    assert main(["plan", "-c", str(config)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: AWS_ENDPOINT_URL='not a url' is not an http(s) URL",
        "hint: set it like AWS_ENDPOINT_URL=http://127.0.0.1:4566, or unset it to use AWS itself"]


def test_plan_on_a_closed_aws_port_is_one_error_line(aws_env: str, tmp_path: object,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "clumio-org.yaml"
    config.write_text(VALID)
    monkeypatch.setenv("CLUMIO_API_TOKEN", "fake-token-value")
    assert main(["plan", "-c", str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: cannot reach the AWS endpoint for ") and \
        lines[1].startswith("hint: "), lines


def test_a_closed_clumio_port_is_one_error_without_urllib3_warnings(caplog: pytest.LogCaptureFixture) -> None:
    url = _closed_port()
    client = ClumioClient(url, environ={"CLUMIO_API_TOKEN": "fake-token-value"})
    with caplog.at_level(logging.WARNING), pytest.raises(EndpointUnreachable) as caught:
        client.latest_template()
    assert caught.value.message.startswith("cannot reach the Clumio API (GET ")
    assert [r for r in caplog.records if r.name.startswith("urllib3")] == []
    assert client.retry.connect == CONNECT_RETRIES == 1  # the refused connect is tried twice, not seven times
