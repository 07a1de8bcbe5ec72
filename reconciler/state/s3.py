"""The S3 state backend: the state object written with conditional puts, the lock as a ``<key>.lock`` object.

- Writes are compare-and-swap: the object is read, the lineage/serial rules checked, and the new body put with
  ``If-Match: <ETag read>`` (or ``If-None-Match: *`` when there was none), so a concurrent writer makes the put fail
  (412) instead of being overwritten. Plain puts keep working with bucket versioning, which is how a team recovers
  an older state (turn versioning on for the bucket).
- The lock is an object created with ``If-None-Match: *``: S3 lets exactly one creator win; the loser's 412 becomes a
  StateLockedError naming the holder read from the lock object.
- With ``kms_key_id`` every object is written SSE-KMS with that key.
- Retries are botocore's (standard mode, :data:`S3_CONFIG`): 5xx, SlowDown and dropped connections are retried with
  backoff. A conditional put is safe to retry: when a retry of our own put answers 412 because the first attempt
  landed (its answer was lost), the stored body is ours and the write succeeded; any other 412 is a lost
  compare-and-swap, reported, never overwritten. What retries do not cure is StateUnavailable: apply exits 4 and
  the next run resumes from the last stored journal.
boto3 honours ``AWS_ENDPOINT_URL``, so the same code runs against the sandbox's S3.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.core.errors import StateError, StateUnavailable
from reconciler.state.backend import LockInfo, StateBackend, locked_error, readable_identity
from reconciler.state.codec import state_from_text, state_to_text
from reconciler.state.model import State

_PRECONDITION_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
_MISSING_CODES = ("NoSuchKey", "404", "NotFound")
_UNSUPPORTED_CODES = ("NotImplemented", "InvalidArgument", "InvalidRequest", "501")
_TRANSIENT_CODES = ("InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "500", "502", "503", "504")
_EXPIRED_CODES = ("ExpiredToken", "ExpiredTokenException", "RequestExpired")
# One retry policy: botocore's standard mode (exponential backoff with jitter) on 5xx, SlowDown, timeouts and
# connection errors; nothing here loops on top of it.
S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=10, read_timeout=30)


class S3Backend(StateBackend):
    """State in ``s3://bucket/key`` (SSE-KMS when ``kms_key_id`` is set), lock in ``s3://bucket/key.lock``."""

    def __init__(self, bucket: str, key: str, region: str | None = None, kms_key_id: str | None = None,
                 client: Any = None) -> None:
        self.bucket = bucket
        self.key = key
        self.lock_key = f"{key}.lock"
        self.region = region
        self.kms_key_id = kms_key_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("s3", region_name=self.region, config=S3_CONFIG)
        return self._client

    def describe(self) -> str:
        extras = [f"region {self.region}"] if self.region else []
        if self.kms_key_id:
            extras.append(f"SSE-KMS {self.kms_key_id}")
        return f"s3://{self.bucket}/{self.key}" + (f" ({', '.join(extras)})" if extras else "")

    def read(self) -> State | None:
        found = self._get(self.key)
        if found is None:
            return None
        return state_from_text(found[0], source=f"s3://{self.bucket}/{self.key}")

    def write(self, state: State, *, force: bool = False) -> State:
        found = self._get(self.key)
        current = readable_identity(found[0], f"s3://{self.bucket}/{self.key}", force=force) if found else None
        stored = self._next_state(current, state, force=force)
        condition = {"IfMatch": found[1]} if found else {"IfNoneMatch": "*"}
        body = state_to_text(stored).encode()
        try:
            self._put(self.key, body, **condition)
        except ClientError as exc:
            if _code(exc) not in _PRECONDITION_CODES:
                raise self._error("write", self.key, exc) from None
            now = self._get(self.key)
            if now is None or now[0] != body:
                raise self._lost_swap(stored, now) from None
            # A retry of our own put: the first attempt landed and its answer was lost; the stored state is ours.
        return self._returned(stored)

    def _lost_swap(self, ours: State, now: tuple[bytes, str] | None) -> StateError:
        """Another writer stored the state between our read and our put: say so, and leave its state alone."""
        theirs = "it is gone"
        if now is not None:
            try:
                lineage, serial = readable_identity(now[0], self.describe(), force=False) or ("?", 0)
                theirs = f"it now holds serial {serial} (lineage {lineage})"
            except StateError:
                theirs = "it now holds something unreadable"
        return StateError(
            f"lost the compare-and-swap on the state at {self.describe()}: it was written by another run while this "
            f"one wrote serial {ours.serial}; {theirs} — nothing was overwritten",
            hint="find the other run (`clumio-org state show`: lock holder, last apply); then re-run the command so "
                 "it starts from the latest state")

    def current_lock(self) -> LockInfo | None:
        found = self._get(self.lock_key)
        if found is None:
            return None
        return LockInfo.from_text(found[0], f"s3://{self.bucket}/{self.lock_key}")

    def _acquire(self, info: LockInfo) -> None:
        try:
            self._put(self.lock_key, info.to_text().encode(), IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) not in _PRECONDITION_CODES:
                raise self._error("lock", self.lock_key, exc) from None
            holder = self.current_lock()
            if holder is not None and holder.id == info.id:
                return  # a retry of our own put: the first attempt created the lock, its answer was lost
            if holder is None:  # released between the failed put and our read
                raise StateError(f"the state lock at s3://{self.bucket}/{self.lock_key} changed hands; "
                                 "try again") from None
            raise locked_error(holder, self.describe()) from None

    def _delete_lock(self, lock_id: str) -> bool:
        found = self._get(self.lock_key)
        if found is None or LockInfo.from_text(found[0], self.lock_key).id != lock_id:
            return False
        try:
            # If-Match on the ETag just read: a lock another run took in between is left alone.
            self.client.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=found[1])
        except ClientError as exc:
            code = _code(exc)
            if code in _PRECONDITION_CODES:
                return self._get(self.lock_key) is None  # gone: a retry of our own delete that had landed
            if code not in _UNSUPPORTED_CODES:
                raise self._error("unlock", self.lock_key, exc) from None
            # An S3-compatible store without conditional deletes: the id was checked just above.
            self._delete_unconditionally()
        except BotoCoreError as exc:
            raise _unreachable(self.describe(), exc) from None
        return True

    def _delete_unconditionally(self) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.lock_key)
        except ClientError as exc:
            raise self._error("unlock", self.lock_key, exc) from None

    def _get(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise self._error("read", key, exc) from None
        except BotoCoreError as exc:
            raise _unreachable(self.describe(), exc) from None

    def _put(self, key: str, body: bytes, **condition: str) -> None:
        extra: dict[str, str] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
                                   **extra, **condition)
        except BotoCoreError as exc:
            raise _unreachable(self.describe(), exc) from None

    def _error(self, action: str, key: str, exc: ClientError) -> StateError:
        code = _code(exc)
        message = exc.response.get("Error", {}).get("Message") or code
        hints = {
            "NoSuchBucket": f"create the bucket {self.bucket} (with versioning on) or fix state.bucket in the config",
            "AccessDenied": "the caller needs s3:GetObject, s3:PutObject and s3:DeleteObject on the state key and "
                            "its .lock object (and kms:Decrypt/kms:GenerateDataKey on the KMS key, if set)",
        }
        if code in _TRANSIENT_CODES or code in _EXPIRED_CODES:
            hint = ("refresh your AWS credentials and run again" if code in _EXPIRED_CODES else
                    "S3 kept failing after retries; run again in a few minutes")
            return StateUnavailable(f"cannot {action} s3://{self.bucket}/{key}: {code}: {message}", hint=hint)
        return StateError(f"cannot {action} s3://{self.bucket}/{key}: {code}: {message}",
                          hint=hints.get(code, "check the bucket, key, region and your AWS credentials"))


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _unreachable(where: str, exc: BotoCoreError) -> StateError:
    return StateUnavailable(f"cannot reach the state at {where}: {exc}",
                      hint="check AWS credentials (AWS_PROFILE, AWS_REGION) and AWS_ENDPOINT_URL if you set one")
