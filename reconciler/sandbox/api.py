"""The seam between the sandbox's wire layer (HTTP, botocore (de)serialisation) and its world (the simulation).

The wire layer (``server.py``, ``protocols.py``, ``s3.py``) knows HTTP and AWS wire formats and nothing of
StackSets. The world (``world.py`` and friends) knows Organizations, StackSets and Clumio and nothing of HTTP. They meet
here: the wire layer turns a request into ``(service, operation, params)`` exactly as botocore's service model names
them, calls :meth:`SandboxWorld.handle_aws`, and serialises the returned dict with the operation's output shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class AwsFault(Exception):
    """An AWS error response: ``code`` as AWS names it (``OperationInProgressException``, ``ValidationError``,
    ``Throttling`` …), the HTTP status AWS uses for it, whether it is the sender's fault, and the error's other
    modelled members (Organizations' ``InvalidInputException.Reason``), which JSON error bodies carry."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.fields = dict(fields or {})


class Clock(Protocol):
    """Simulated time. ``now()`` is timezone-aware UTC."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    etag: str
    last_modified: datetime
    content_type: str = "application/octet-stream"
    version_id: str | None = None  # set while the bucket's versioning is Enabled


class ObjectStore(Protocol):
    """The sandbox's S3: a state file, its lock object, TemplateURLs, and what ``aws s3`` does with buckets."""

    def create_bucket(self, bucket: str) -> None: ...
    def bucket_exists(self, bucket: str) -> bool: ...
    def buckets(self) -> list[tuple[str, datetime]]: ...
    def delete_bucket(self, bucket: str) -> None:
        """Raises AwsFault('BucketNotEmpty', …, 409) / ('NoSuchBucket', …, 404)."""
        ...
    def versioning(self, bucket: str) -> str: ...
    def set_versioning(self, bucket: str, status: str) -> None: ...
    def put(self, bucket: str, key: str, body: bytes, *, if_none_match: bool = False,
            if_match: str | None = None, content_type: str = "application/octet-stream") -> StoredObject:
        """Raises AwsFault('PreconditionFailed', …, 412) when ``if_none_match`` and the key exists, or when
        ``if_match`` differs from the current ETag; AwsFault('NoSuchBucket', …, 404) for a missing bucket."""
        ...
    def get(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        """Raises AwsFault('NoSuchKey', …, 404) / ('NoSuchVersion', …, 404) / ('NoSuchBucket', …, 404)."""
        ...
    def delete(self, bucket: str, key: str) -> None: ...
    def list(self, bucket: str, prefix: str = "") -> list[tuple[str, StoredObject]]: ...
    def list_versions(self, bucket: str, prefix: str = "") -> list[tuple[str, StoredObject, bool]]: ...
    def start_upload(self, bucket: str, key: str, content_type: str) -> str: ...
    def put_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str: ...
    def complete_upload(self, bucket: str, key: str, upload_id: str,
                        parts: list[tuple[int, str]]) -> StoredObject: ...
    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None: ...


@dataclass(frozen=True)
class ClumioRequest:
    method: str
    path: str  # below the Clumio base URL, e.g. "/connections/aws"
    query: dict[str, list[str]]
    headers: dict[str, str]  # header names lower-cased
    body: bytes


@dataclass(frozen=True)
class ClumioResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class SandboxWorld(Protocol):
    """What the wire layer needs from the world. Every method is safe to call from many server threads."""

    lock: threading.RLock
    clock: Clock
    objects: ObjectStore

    def handle_aws(self, service: str, operation: str, params: dict[str, Any], *,
                   access_key: str, region: str) -> dict[str, Any]:
        """Run one AWS API call. ``service`` is botocore's name (cloudformation, organizations, sts); ``params``
        and the returned dict use the operation's input/output shape member names; timestamps are datetimes.
        ``access_key`` identifies the caller (see ``caller_account``). Raises AwsFault."""
        ...

    def handle_clumio(self, request: ClumioRequest) -> ClumioResponse:
        """Run one Clumio REST call (reference/clumio-api.md), including auth and Accept checks."""
        ...

    def apply_event(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A world event for demos and tests (move-account, add-account, suspend-account, drift-stack,
        release-template, unlink-connection, delete-stack, fail-account, set-faults …).
        Raises AwsFault('ValidationError', …)."""
        ...

    def status(self) -> dict[str, Any]:
        """A JSON-able summary: org, accounts, StackSets, instance counts by status, operations, connections."""
        ...

    def call_latency_seconds(self) -> float:
        """Per-call latency the world's faults ask for (real seconds the server waits before answering)."""
        ...
