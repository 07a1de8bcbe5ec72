"""Contract: S3 as ``aws s3`` and a state backend use it — byte ranges, multipart uploads, bucket listing,
deletion and versioning, wall-clock times (docs/reference/sandbox-fidelity.md §2)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.awscli_runner import aws_cli

TINY_WORLD: dict[str, Any] = {
    "organization": {"id": "o-wire000001", "management_account": "999999999999",
                     "management_account_name": "management"},
    "accounts": [{"id": "111111111111", "name": "one"}],
}


@pytest.fixture
def served(sandbox_factory: Any) -> Any:
    sandbox = sandbox_factory(TINY_WORLD)
    sandbox.client("s3").create_bucket(Bucket="tf-state")
    return sandbox


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_aws_s3_cp_of_a_20_mib_object_round_trips_byte_for_byte(served: Any, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    source.write_bytes(os.urandom(20 * 1024 * 1024))  # over 8 MiB: the CLI uploads in parts, downloads by ranges
    up = aws_cli(served, "s3", "cp", str(source), "s3://tf-state/big/object.bin")
    assert up.returncode == 0, up.stderr
    head = served.client("s3").head_object(Bucket="tf-state", Key="big/object.bin")
    assert head["ContentLength"] == 20 * 1024 * 1024 and head["ETag"].endswith('-3"')  # 3 parts of 8 MiB
    target = tmp_path / "down.bin"
    down = aws_cli(served, "s3", "cp", "s3://tf-state/big/object.bin", str(target))
    assert down.returncode == 0, down.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


def test_get_object_range_answers_206_with_content_range(served: Any) -> None:
    s3 = served.client("s3")
    s3.put_object(Bucket="tf-state", Key="k", Body=b"0123456789")
    cases = {"bytes=2-5": (b"2345", "bytes 2-5/10"), "bytes=7-": (b"789", "bytes 7-9/10"),
             "bytes=-3": (b"789", "bytes 7-9/10"), "bytes=8-100": (b"89", "bytes 8-9/10")}
    for asked, (body, content_range) in cases.items():
        got = s3.get_object(Bucket="tf-state", Key="k", Range=asked)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert (got["Body"].read(), got["ContentRange"], got["ContentLength"]) == (body, content_range, len(body))
    whole = s3.get_object(Bucket="tf-state", Key="k")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200 and whole["AcceptRanges"] == "bytes"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="tf-state", Key="k", Range="bytes=10-")
    assert _error(caught) == ("InvalidRange", 416)


def test_multipart_upload_joins_parts_in_order_and_checks_them(served: Any) -> None:
    s3 = served.client("s3")
    upload = s3.create_multipart_upload(Bucket="tf-state", Key="mp")["UploadId"]
    one = s3.upload_part(Bucket="tf-state", Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * 5)["ETag"]
    two = s3.upload_part(Bucket="tf-state", Key="mp", UploadId=upload, PartNumber=2, Body=b"b" * 3)["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(Bucket="tf-state", Key="mp", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]})
    assert _error(caught) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(Bucket="tf-state", Key="mp", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": two}]})
    digest = hashlib.md5(bytes.fromhex(one.strip('"')) + bytes.fromhex(two.strip('"'))).hexdigest()
    assert done["ETag"] == f'"{digest}-2"'
    assert s3.get_object(Bucket="tf-state", Key="mp")["Body"].read() == b"aaaaabbb"
    with pytest.raises(ClientError) as caught:
        s3.upload_part(Bucket="tf-state", Key="mp", UploadId=upload, PartNumber=3, Body=b"c")
    assert _error(caught) == ("NoSuchUpload", 404)


def test_an_aborted_upload_leaves_no_object(served: Any) -> None:
    s3 = served.client("s3")
    upload = s3.create_multipart_upload(Bucket="tf-state", Key="gone")["UploadId"]
    s3.upload_part(Bucket="tf-state", Key="gone", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="tf-state", Key="gone", UploadId=upload)
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket="tf-state", Key="gone")
    assert _error(caught) == ("404", 404)


def test_buckets_are_listed_headed_and_deleted_only_when_empty(served: Any) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="another")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "another" in names and "tf-state" in names and names == sorted(names)
    s3.put_object(Bucket="another", Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket="another")
    assert _error(caught) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="another", Key="k")
    s3.delete_bucket(Bucket="another")
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket="another")
    assert _error(caught) == ("404", 404)
    listed = aws_cli(served, "s3", "ls")
    assert listed.returncode == 0 and "tf-state" in listed.stdout and "another" not in listed.stdout


def test_last_modified_follows_the_wall_clock_not_the_simulated_one(served: Any) -> None:
    served.world.clock.advance(30 * 24 * 3600)  # a month of simulated time
    s3 = served.client("s3")
    s3.put_object(Bucket="tf-state", Key="state.json", Body=b"{}")
    stamp = s3.head_object(Bucket="tf-state", Key="state.json")["LastModified"]
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    created = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}["tf-state"]
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_versioned_bucket_keeps_every_state_write_restorable(served: Any) -> None:
    s3 = served.client("s3")
    assert "Status" not in s3.get_bucket_versioning(Bucket="tf-state")
    s3.put_bucket_versioning(Bucket="tf-state", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="tf-state")["Status"] == "Enabled"
    first = s3.put_object(Bucket="tf-state", Key="state.json", Body=b'{"serial": 1}')["VersionId"]
    s3.put_object(Bucket="tf-state", Key="state.json", Body=b'{"serial": 2}')
    versions = s3.list_object_versions(Bucket="tf-state", Prefix="state.json")["Versions"]
    assert [v["IsLatest"] for v in versions] == [True, False] and versions[1]["VersionId"] == first
    old = s3.get_object(Bucket="tf-state", Key="state.json", VersionId=first)["Body"].read()
    assert old == b'{"serial": 1}'
    assert s3.get_object(Bucket="tf-state", Key="state.json")["Body"].read() == b'{"serial": 2}'
