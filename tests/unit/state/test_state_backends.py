"""Choosing the backend from the config, and the S3 backend's calls (conditional puts, SSE-KMS, errors)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from reconciler.core.desired import StateSpec
from reconciler.core.errors import ConfigError, StateError, StateLockedError
from reconciler.state import DEFAULT_S3_KEY, LocalBackend, State, open_backend, state_to_text
from reconciler.state.s3 import S3Backend
from tests.fakes import make_desired


def test_a_relative_local_path_is_relative_to_the_config_files_folder(tmp_path: Path) -> None:
    desired = make_desired(source=str(tmp_path / "team" / "clumio-org.yaml"))
    backend = open_backend(desired)
    assert isinstance(backend, LocalBackend)
    assert backend.path == tmp_path / "team" / ".clumio-org" / "state.json"


def test_an_absolute_local_path_is_kept(tmp_path: Path) -> None:
    desired = replace(make_desired(), state=StateSpec(path=str(tmp_path / "s.json")))
    assert open_backend(desired).describe() == str(tmp_path / "s.json")


def test_s3_defaults_to_the_home_region_and_the_default_key() -> None:
    desired = replace(make_desired(), state=StateSpec(backend="s3", bucket="team-state"))
    backend = open_backend(desired)
    assert isinstance(backend, S3Backend)
    assert (backend.bucket, backend.key, backend.region) == ("team-state", DEFAULT_S3_KEY,
                                                             desired.organization.home_region)
    assert backend.describe().startswith(f"s3://team-state/{DEFAULT_S3_KEY}")


def test_s3_without_a_bucket_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="state.bucket"):
        open_backend(replace(make_desired(), state=StateSpec(backend="s3")))


class RecordingS3:
    """The few S3 calls the backend makes, kept in memory with S3's conditional-write answers."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.puts: list[dict[str, Any]] = []
        self.deletes: list[str | None] = []
        self.fail_with: str | None = None

    def _fail(self, operation: str) -> None:
        if self.fail_with:
            raise ClientError({"Error": {"Code": self.fail_with, "Message": "no"}}, operation)

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self._fail("GetObject")
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        body, etag = self.objects[Key]
        return {"Body": io.BytesIO(body), "ETag": etag}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self._fail("PutObject")
        self.puts.append(kwargs)
        key = kwargs["Key"]
        if kwargs.get("IfNoneMatch") == "*" and key in self.objects:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "exists"}}, "PutObject")
        if "IfMatch" in kwargs and self.objects.get(key, (b"", None))[1] != kwargs["IfMatch"]:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "changed"}}, "PutObject")
        etag = f'"etag-{len(self.puts)}"'
        self.objects[key] = (kwargs["Body"], etag)
        return {"ETag": etag}

    def delete_object(self, Bucket: str, Key: str, IfMatch: str | None = None) -> None:  # noqa: N803
        self.deletes.append(IfMatch)
        if IfMatch is not None and self.objects.get(Key, (b"", None))[1] != IfMatch:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "changed"}}, "DeleteObject")
        self.objects.pop(Key, None)


def test_every_s3_object_is_written_sse_kms_with_the_configured_key() -> None:
    client = RecordingS3()
    backend = S3Backend("team-state", "org/state.json", "eu-west-1", kms_key_id="alias/clumio-org", client=client)
    with backend.lock("apply"):
        backend.write(State.new())
    assert len(client.puts) == 2
    for put in client.puts:
        assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == "alias/clumio-org"
    assert "SSE-KMS alias/clumio-org" in backend.describe()


def test_the_lock_is_a_create_only_put_and_writes_are_conditional_on_the_etag_read() -> None:
    client = RecordingS3()
    backend = S3Backend("team-state", "org/state.json", client=client)
    with backend.lock("apply"):
        first = backend.write(State.new())
        backend.write(first)
    lock_put, create, update = client.puts
    assert lock_put["Key"] == "org/state.json.lock" and lock_put["IfNoneMatch"] == "*"
    assert create["IfNoneMatch"] == "*" and "IfMatch" not in create
    assert update["IfMatch"] == '"etag-2"'
    assert "org/state.json.lock" not in client.objects
    assert client.deletes == ['"etag-1"']  # the release is conditional on the lock object it created


def test_a_store_without_conditional_deletes_still_releases_the_lock() -> None:
    class NoConditionalDeletes(RecordingS3):
        def delete_object(self, Bucket: str, Key: str, IfMatch: str | None = None) -> None:  # noqa: N803
            if IfMatch is not None:
                raise ClientError({"Error": {"Code": "NotImplemented", "Message": "no"}}, "DeleteObject")
            super().delete_object(Bucket, Key)

    client = NoConditionalDeletes()
    with S3Backend("team-state", "k", client=client).lock("apply"):
        pass
    assert client.objects == {}


def test_a_second_lock_reports_the_holder_read_from_the_lock_object() -> None:
    client = RecordingS3()
    with S3Backend("b-state", "k", client=client).lock("clumio-org apply") as held, \
            pytest.raises(StateLockedError) as error, S3Backend("b-state", "k", client=client).lock("other"):
        pytest.fail("two holders")
    assert held.who in error.value.message and held.id in (error.value.hint or "")


@pytest.mark.parametrize(("code", "hint"), [("NoSuchBucket", "create the bucket"), ("AccessDenied", "s3:PutObject")])
def test_s3_errors_become_state_errors_with_a_hint(code: str, hint: str) -> None:
    client = RecordingS3()
    client.fail_with = code
    with pytest.raises(StateError, match=code) as error:
        S3Backend("team-state", "k", client=client).read()
    assert hint in (error.value.hint or "")


def test_an_unreachable_endpoint_is_a_state_error() -> None:
    class Unreachable(RecordingS3):
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    with pytest.raises(StateError, match="cannot reach the state"):
        S3Backend("team-state", "k", client=Unreachable()).read()


def test_a_format_0_object_reads_migrated(tmp_path: Path) -> None:
    client = RecordingS3()
    client.objects["k"] = (b'{"version": 0, "serial": 2, "instances": []}', '"e"')
    state = S3Backend("team-state", "k", client=client).read()
    assert state is not None and state.serial == 2 and state.format_version == 0
    stored = S3Backend("team-state", "k", client=client).write(state)
    assert stored.serial == 3 and client.objects["k"][0].decode() == state_to_text(stored)
