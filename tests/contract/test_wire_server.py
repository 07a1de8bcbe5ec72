"""Wire contract: one port serves AWS, the Clumio API (under /clumio) and the control API (under /_sandbox/)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests

from reconciler.sandbox.server import start_in_thread


@pytest.fixture
def demo(sandbox: Any) -> Any:
    return sandbox


def _clumio_headers(sandbox: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.env()['CLUMIO_API_TOKEN']}",
            "Accept": "application/api.clumio.*=v1+json"}


def test_env_points_every_client_at_the_one_port(demo: Any) -> None:
    env = demo.env()
    assert env["AWS_ENDPOINT_URL"] == demo.aws_url == f"http://127.0.0.1:{demo.port}"
    assert env["CLUMIO_API_URL"] == demo.clumio_url == f"{demo.aws_url}/clumio"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["CLUMIO_API_TOKEN"] == "sandbox-api-token"


def test_clumio_api_is_served_under_clumio_with_its_auth_check(demo: Any) -> None:
    url = f"{demo.clumio_url}/connections/aws"
    ok = requests.get(url, headers=_clumio_headers(demo), timeout=5)
    missing = requests.get(url, headers={"Accept": "application/api.clumio.*=v1+json"}, timeout=5)
    assert ok.status_code == 200 and "_embedded" in ok.json()
    assert missing.status_code == 403
    assert missing.json()["errors"][0]["error_code"] == 359


def test_clumio_template_url_is_fetchable_by_plain_get(demo: Any) -> None:
    created = requests.post(f"{demo.clumio_url}/connections/aws/templates", headers=_clumio_headers(demo),
                            json={"asset_types_enabled": ["EBS"], "organization_template": True}, timeout=5).json()
    url = created["cloudformation_url"]
    assert url.startswith(f"{demo.aws_url}/clumio-templates/")
    body = requests.get(url, timeout=5)
    assert body.status_code == 200 and b"ClumioToken" in body.content


def test_control_status_reports_the_world(demo: Any) -> None:
    status = requests.get(f"{demo.aws_url}/_sandbox/status", timeout=5).json()
    assert status["organization"]["id"] == "o-demo7k2p9xq4"


def test_control_event_changes_the_world_seen_through_aws(demo: Any) -> None:
    org = demo.client("organizations")
    account = "300000000001"
    before = org.list_parents(ChildId=account)["Parents"][0]["Id"]
    reply = requests.post(f"{demo.aws_url}/_sandbox/events/move-account", json={"account": account, "ou": "/Sandbox"},
                          timeout=5)
    after = org.list_parents(ChildId=account)["Parents"][0]["Id"]
    assert reply.status_code == 200
    assert after != before
    assert org.describe_organizational_unit(OrganizationalUnitId=after)["OrganizationalUnit"]["Name"] == "Sandbox"


def test_control_event_errors_answer_4xx_with_the_reason(demo: Any) -> None:
    reply = requests.post(f"{demo.aws_url}/_sandbox/events/move-account", json={"account": "000000000000",
                                                                                "ou": "/Sandbox"}, timeout=5)
    unknown = requests.post(f"{demo.aws_url}/_sandbox/events/no-such-event", json={}, timeout=5)
    not_json = requests.post(f"{demo.aws_url}/_sandbox/events/move-account", data=b"[1]", timeout=5)
    wrong_type = requests.post(f"{demo.aws_url}/_sandbox/events/set-faults", json={"throttle_rate": "often"},
                               timeout=5)
    assert wrong_type.status_code == 400 and "often" in wrong_type.json()["error"]["message"]
    assert reply.status_code == 400 and reply.json()["error"]["message"]
    assert unknown.status_code == 400
    assert not_json.status_code == 400
    assert requests.get(f"{demo.aws_url}/_sandbox/nothing", timeout=5).status_code == 404


def test_control_clock_advance_moves_simulated_time(demo: Any) -> None:
    before = demo.world.clock.now()
    reply = requests.post(f"{demo.aws_url}/_sandbox/clock/advance", json={"seconds": 600}, timeout=5)
    assert reply.status_code == 200
    assert (demo.world.clock.now() - before).total_seconds() == 600


def test_shutdown_stops_the_server(sandbox_factory: Any) -> None:
    from tests.conftest import build_world

    sandbox = start_in_thread(build_world("demo"))
    try:
        assert requests.post(f"{sandbox.aws_url}/_sandbox/shutdown", timeout=5).json() == {"stopping": True}
        sandbox._thread.join(timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{sandbox.aws_url}/_sandbox/status", timeout=2)
    finally:
        sandbox.stop()


def test_unsigned_call_without_a_known_api_version_is_refused(demo: Any) -> None:
    reply = requests.post(demo.aws_url + "/", data={"Action": "ListStackSets"}, timeout=5)
    assert reply.status_code == 403
    assert b"MissingAuthenticationToken" in reply.content


def test_unknown_json_target_is_refused(demo: Any) -> None:
    reply = requests.post(demo.aws_url + "/", data=b"{}", headers={"X-Amz-Target": "NoSuchService.DoIt"}, timeout=5)
    assert reply.status_code == 400


def test_a_world_bug_answers_500_instead_of_hanging(sandbox_factory: Any) -> None:
    class BrokenWorld:
        def __init__(self) -> None:
            import threading

            self.lock = threading.RLock()

        def handle_aws(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("boom")

        def call_latency_seconds(self) -> float:
            return 0.0

    sandbox = sandbox_factory(BrokenWorld())
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        sandbox.client("sts").get_caller_identity()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_client_for_an_account_acts_as_that_account(demo: Any) -> None:
    identity = demo.client("sts", account="210000000003").get_caller_identity()
    assert identity["Account"] == "210000000003"
    assert demo.client("sts").get_caller_identity()["Account"] == "100000000001"


def test_assumed_role_credentials_act_as_the_target_account(demo: Any) -> None:
    import boto3

    credentials = demo.client("sts").assume_role(
        RoleArn="arn:aws:iam::300000000001:role/OrganizationAccountAccessRole", RoleSessionName="wire")["Credentials"]
    sts = boto3.client("sts", endpoint_url=demo.aws_url, region_name="us-east-1",
                       aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"],
                       aws_session_token=credentials["SessionToken"])
    assert sts.get_caller_identity()["Account"] == "300000000001"


def test_sandbox_env_points_default_clients_at_the_sandbox(sandbox_env: Any) -> None:
    import boto3

    assert boto3.client("sts").get_caller_identity()["Account"] == "100000000001"
    reply = requests.get(f"{os.environ['CLUMIO_API_URL']}/connections/aws", timeout=5, headers={
        "Authorization": f"Bearer {os.environ['CLUMIO_API_TOKEN']}", "Accept": "application/api.clumio.*=v1+json"})
    assert reply.status_code == 200


def test_query_call_sent_as_get_with_url_parameters_works(demo: Any) -> None:
    auth = "AWS4-HMAC-SHA256 Credential=sandbox/20260105/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"
    reply = requests.get(f"{demo.aws_url}/?Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Authorization": auth}, timeout=5)
    assert reply.status_code == 200 and b"<Account>100000000001</Account>" in reply.content


def test_many_concurrent_callers_are_all_answered(demo: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clients = [demo.client("organizations") for _ in range(8)]

    def work(index: int) -> int:
        return len(clients[index % 8].list_accounts()["Accounts"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(work, range(160)))
    assert sizes == [20] * 160
