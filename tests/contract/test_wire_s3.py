"""Wire contract: the sandbox's S3 serves a state file, its lock object and TemplateURLs the way boto3 expects.

Conditional writes follow S3 (``If-None-Match: *`` and ``If-Match``: 412 PreconditionFailed), which the S3 state
backend's locking depends on.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

TINY_WORLD: dict[str, Any] = {
    "organization": {"id": "o-wire000001", "management_account": "999999999999",
                     "management_account_name": "management"},
    "accounts": [{"id": "111111111111", "name": "one"}],
}


@pytest.fixture
def s3(sandbox_factory: Any) -> Any:
    sandbox = sandbox_factory(TINY_WORLD)
    client = sandbox.client("s3")
    client.create_bucket(Bucket="tf-state")
    client.sandbox = sandbox
    return client


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_object_put_get_head_delete_round_trip(s3: Any) -> None:
    put = s3.put_object(Bucket="tf-state", Key="org/state.json", Body=b'{"serial": 1}',
                        ContentType="application/json")
    got = s3.get_object(Bucket="tf-state", Key="org/state.json")
    head = s3.head_object(Bucket="tf-state", Key="org/state.json")
    assert got["Body"].read() == b'{"serial": 1}'
    assert got["ETag"] == put["ETag"] == head["ETag"]
    assert head["ContentLength"] == 13
    assert head["ContentType"] == "application/json"
    assert got["LastModified"] == head["LastModified"]
    s3.delete_object(Bucket="tf-state", Key="org/state.json")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="tf-state", Key="org/state.json")
    assert _error(caught) == ("NoSuchKey", 404)


def test_head_of_a_missing_object_is_404(s3: Any) -> None:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket="tf-state", Key="nothing-here")
    assert _error(caught) == ("404", 404)


def test_put_if_none_match_fails_412_when_the_lock_exists(s3: Any) -> None:
    s3.put_object(Bucket="tf-state", Key="org/state.json.lock", Body=b"run-1", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="tf-state", Key="org/state.json.lock", Body=b"run-2", IfNoneMatch="*")
    assert _error(caught) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="tf-state", Key="org/state.json.lock")["Body"].read() == b"run-1"


def test_put_if_match_succeeds_on_current_etag_and_fails_412_on_a_stale_one(s3: Any) -> None:
    first = s3.put_object(Bucket="tf-state", Key="state.json", Body=b"v1")["ETag"]
    second = s3.put_object(Bucket="tf-state", Key="state.json", Body=b"v2", IfMatch=first)["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="tf-state", Key="state.json", Body=b"v3", IfMatch=first)
    assert _error(caught) == ("PreconditionFailed", 412)
    assert second != first
    assert s3.get_object(Bucket="tf-state", Key="state.json")["Body"].read() == b"v2"


def test_missing_bucket_is_no_such_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert _error(caught) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket="no-such-bucket")
    assert _error(caught) == ("404", 404)
    s3.head_bucket(Bucket="tf-state")


def test_list_objects_v2_pages_by_continuation_token_and_filters_by_prefix(s3: Any) -> None:
    for index in range(5):
        s3.put_object(Bucket="tf-state", Key=f"org/{index}.json", Body=b"x")
    s3.put_object(Bucket="tf-state", Key="other/file", Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="tf-state", Prefix="org/",
                                                              PaginationConfig={"PageSize": 2}))
    assert [[o["Key"] for o in page.get("Contents", [])] for page in pages] == [
        ["org/0.json", "org/1.json"], ["org/2.json", "org/3.json"], ["org/4.json"]]
    assert pages[0]["IsTruncated"] is True and pages[-1]["IsTruncated"] is False
    assert pages[0]["Contents"][0]["Size"] == 1


def test_objects_are_readable_anonymously_but_not_writable(s3: Any) -> None:
    s3.put_object(Bucket="tf-state", Key="templates/t.yaml", Body=b"Resources: {}\n")
    url = f"{s3.sandbox.aws_url}/tf-state/templates/t.yaml"
    assert requests.get(url, timeout=5).content == b"Resources: {}\n"
    assert requests.put(url, data=b"evil", timeout=5).status_code == 403
    assert requests.get(f"{s3.sandbox.aws_url}/tf-state/missing", timeout=5).status_code == 404


def test_large_object_survives_the_wire(s3: Any) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: checksums and chunked uploads must not corrupt it
    s3.put_object(Bucket="tf-state", Key="big.bin", Body=body)
    assert s3.get_object(Bucket="tf-state", Key="big.bin")["Body"].read() == body


def test_streamed_uploads_arrive_intact(s3: Any) -> None:
    s3.put_object(Bucket="tf-state", Key="stream.bin", Body=io.BytesIO(b"streamed body"))
    s3.upload_fileobj(io.BytesIO(b"uploaded body"), "tf-state", "upload.bin")
    assert s3.get_object(Bucket="tf-state", Key="stream.bin")["Body"].read() == b"streamed body"
    assert s3.get_object(Bucket="tf-state", Key="upload.bin")["Body"].read() == b"uploaded body"


def test_a_localhost_endpoint_reaches_the_same_buckets(s3: Any) -> None:
    import boto3

    s3.put_object(Bucket="tf-state", Key="org/state.json", Body=b"{}")
    local = boto3.client("s3", endpoint_url=f"http://localhost:{s3.sandbox.port}", region_name="us-east-1",
                         aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    assert local.get_object(Bucket="tf-state", Key="org/state.json")["Body"].read() == b"{}"
    local.put_object(Bucket="tf-state", Key="from-localhost", Body=b"x")
    assert s3.head_object(Bucket="tf-state", Key="from-localhost")["ContentLength"] == 1


def test_conditional_delete_releases_only_the_lock_it_names(s3: Any) -> None:
    mine = s3.put_object(Bucket="tf-state", Key="state.lock", Body=b"run-1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket="tf-state", Key="state.lock", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert _error(caught) == ("PreconditionFailed", 412)
    s3.delete_object(Bucket="tf-state", Key="state.lock", IfMatch=mine)
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket="tf-state", Key="state.lock")
    assert _error(caught) == ("404", 404)


def test_conditional_get_answers_412_or_304(s3: Any) -> None:
    etag = s3.put_object(Bucket="tf-state", Key="state.json", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket="tf-state", Key="state.json", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="tf-state", Key="state.json", IfMatch='"stale"')
    assert _error(caught) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="tf-state", Key="state.json", IfNoneMatch=etag)
    assert _error(caught)[1] == 304


def test_list_objects_v2_groups_common_prefixes_under_a_delimiter(s3: Any) -> None:
    for key in ("a/1", "a/2", "b/1", "c", "d/x/1", "e"):
        s3.put_object(Bucket="tf-state", Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="tf-state", Delimiter="/",
                                                              PaginationConfig={"PageSize": 2}))
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    assert keys == ["c", "e"]
    assert prefixes == ["a/", "b/", "d/"]
    nested = s3.list_objects_v2(Bucket="tf-state", Prefix="d/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["d/x/"] and "Contents" not in nested
