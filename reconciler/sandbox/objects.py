"""The sandbox's S3 storage: buckets of objects with ETags and conditional writes, held in memory."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime

from reconciler.sandbox.api import AwsFault, Clock, StoredObject


class InMemoryObjectStore:
    """Implements the ObjectStore protocol of reconciler.sandbox.api (state files, locks, TemplateURLs)."""

    def __init__(self, clock: Clock | Callable[[], datetime]) -> None:
        self._now = clock.now if hasattr(clock, "now") else clock
        self._buckets: dict[str, dict[str, StoredObject]] = {}
        self._lock = threading.RLock()

    def create_bucket(self, bucket: str) -> None:
        with self._lock:
            self._buckets.setdefault(bucket, {})

    def bucket_exists(self, bucket: str) -> bool:
        with self._lock:
            return bucket in self._buckets

    def _bucket(self, bucket: str) -> dict[str, StoredObject]:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404) from None

    def put(self, bucket: str, key: str, body: bytes, *, if_none_match: bool = False,
            if_match: str | None = None, content_type: str = "application/octet-stream") -> StoredObject:
        with self._lock:
            objects = self._bucket(bucket)
            current = objects.get(key)
            if if_none_match and current is not None:
                raise AwsFault("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                               412)
            if if_match is not None and (current is None or current.etag.strip('"') != if_match.strip('"')):
                raise AwsFault("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                               412)
            stored = StoredObject(body, f'"{hashlib.md5(body).hexdigest()}"', self._now(), content_type)
            objects[key] = stored
            return stored

    def get(self, bucket: str, key: str) -> StoredObject:
        with self._lock:
            try:
                return self._bucket(bucket)[key]
            except KeyError:
                raise AwsFault("NoSuchKey", "The specified key does not exist.", 404) from None

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._bucket(bucket).pop(key, None)

    def list(self, bucket: str, prefix: str = "") -> list[tuple[str, StoredObject]]:
        with self._lock:
            return sorted((k, v) for k, v in self._bucket(bucket).items() if k.startswith(prefix))
