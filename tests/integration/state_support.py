"""Shared pieces of the state integration tests: one sandbox per test module (its S3 is all they need), emptied
between tests, and a desired-state file whose state lives in that S3."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import start_in_thread
from reconciler.state.s3 import S3Backend
from tests.conftest import build_world

BUCKET = "team-state"
KEY = "clumio-org/prod/state.json"


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Any]:
    sandbox = start_in_thread(build_world("demo"))
    sandbox.client("s3").create_bucket(Bucket=BUCKET)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def s3_env(module_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module's sandbox with an empty state bucket, and os.environ pointing at it (as tests/conftest.py's
    ``sandbox_env`` does: the user's AWS profile and config files hidden)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in module_sandbox.env().items():
        monkeypatch.setenv(name, value)
    s3 = module_sandbox.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return module_sandbox


def s3_backend_for_test() -> S3Backend:
    """What a run would open: its own boto3 client, as a second CI job would have."""
    return S3Backend(BUCKET, KEY, "us-east-1")


def s3_config(tmp_path: Path, bucket: str = BUCKET) -> Path:
    """A desired-state file whose state lives in the sandbox's S3 (as a team's shared config would)."""
    path = tmp_path / "clumio-org.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        organization:
          id: o-demo7k2p9xq4
          management_account: "100000000001"
          home_region: us-east-1
        clumio:
          api_url: https://clumio.invalid
        targets:
          organization: true
        regions: [us-east-1]
        state:
          backend: s3
          bucket: {bucket}
          key: {KEY}
    """))
    return path
