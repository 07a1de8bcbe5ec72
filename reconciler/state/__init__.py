"""State: what clumio-org applied and the journal of its operations, stored locally or in S3, with a run lock."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.desired import Desired
from reconciler.core.errors import ConfigError, StateError, StateLockedError
from reconciler.state.backend import LockInfo, StateBackend, ci_run_url, format_age
from reconciler.state.codec import (
    migrate_v0,
    state_from_json,
    state_from_text,
    state_identity,
    state_to_json,
    state_to_text,
)
from reconciler.state.local import LocalBackend
from reconciler.state.model import (
    FORMAT_VERSION,
    InstanceRecord,
    JournalEntry,
    JournalFailure,
    JournalStatus,
    StackSetRecord,
    State,
    utc_now,
)

DEFAULT_S3_KEY = "clumio-org/state.json"

__all__ = [
    "DEFAULT_S3_KEY",
    "FORMAT_VERSION",
    "InstanceRecord",
    "JournalEntry",
    "JournalFailure",
    "JournalStatus",
    "LocalBackend",
    "LockInfo",
    "StackSetRecord",
    "State",
    "StateBackend",
    "StateError",
    "StateLockedError",
    "ci_run_url",
    "format_age",
    "migrate_v0",
    "open_backend",
    "state_from_json",
    "state_from_text",
    "state_identity",
    "state_to_json",
    "state_to_text",
    "utc_now",
]


def open_backend(desired: Desired) -> StateBackend:
    """The backend the config's ``state:`` block names. A local path is relative to the config file's folder (so
    the state follows the config, wherever the command runs from); S3 defaults to the organization's home region."""
    spec = desired.state
    if spec.backend == "local":
        path = Path(spec.path).expanduser()
        if not path.is_absolute():
            base = Path(desired.source).parent if desired.source else Path.cwd()
            path = base / path
        return LocalBackend(path)
    if spec.backend == "s3":
        if not spec.bucket:
            raise ConfigError("state.backend is s3 but state.bucket is not set",
                              hint="add `bucket: <name>` (and optionally key, region, kms_key_id) under state:")
        from reconciler.state.s3 import S3Backend

        return S3Backend(bucket=spec.bucket, key=spec.key or DEFAULT_S3_KEY,
                         region=spec.region or desired.organization.home_region, kms_key_id=spec.kms_key_id)
    raise ConfigError(f"unknown state.backend {spec.backend!r}", hint="use `local` or `s3`")
