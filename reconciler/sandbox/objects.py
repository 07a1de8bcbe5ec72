"""The sandbox's S3 storage: buckets of objects with ETags, conditional writes, versioning and multipart uploads,
held in memory. Times come from the wall clock, as on S3 (docs/reference/sandbox-fidelity.md §2)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.sandbox.api import AwsFault, StoredObject

_PRECONDITION = "At least one of the pre-conditions you specified did not hold"


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Bucket:
    name: str
    created: datetime
    versioning: str = ""  # "" (never enabled), "Enabled" or "Suspended", as GetBucketVersioning names them
    objects: dict[str, StoredObject] = field(default_factory=dict)
    versions: dict[str, list[StoredObject]] = field(default_factory=dict)  # key -> every version, oldest first


@dataclass
class MultipartUpload:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime
    content_type: str
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # part number -> (body, quoted ETag)


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


class InMemoryObjectStore:
    """Implements the ObjectStore protocol of reconciler.sandbox.api (state files, locks, TemplateURLs)."""

    def __init__(self, now: Callable[[], datetime] = wall_clock) -> None:
        self._now = now
        self._buckets: dict[str, Bucket] = {}
        self._uploads: dict[str, MultipartUpload] = {}
        self._lock = threading.RLock()

    # --- buckets ----------------------------------------------------------------------------------------
    def create_bucket(self, bucket: str) -> None:
        with self._lock:
            if bucket not in self._buckets:
                self._buckets[bucket] = Bucket(bucket, self._now())

    def bucket_exists(self, bucket: str) -> bool:
        with self._lock:
            return bucket in self._buckets

    def buckets(self) -> list[tuple[str, datetime]]:
        """(name, creation date) of every bucket, by name (ListBuckets)."""
        with self._lock:
            return sorted((b.name, b.created) for b in self._buckets.values())

    def delete_bucket(self, bucket: str) -> None:
        """S3 deletes only an empty bucket: AwsFault('BucketNotEmpty', 409) otherwise."""
        with self._lock:
            record = self._bucket(bucket)
            if record.objects or any(record.versions.values()):
                raise AwsFault("BucketNotEmpty", "The bucket you tried to delete is not empty", 409)
            del self._buckets[bucket]

    def versioning(self, bucket: str) -> str:
        with self._lock:
            return self._bucket(bucket).versioning

    def set_versioning(self, bucket: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise AwsFault("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                           "our published schema")
        with self._lock:
            self._bucket(bucket).versioning = status

    def _bucket(self, bucket: str) -> Bucket:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404) from None

    # --- objects ----------------------------------------------------------------------------------------
    def put(self, bucket: str, key: str, body: bytes, *, if_none_match: bool = False,
            if_match: str | None = None, content_type: str = "application/octet-stream",
            etag: str | None = None) -> StoredObject:
        with self._lock:
            record = self._bucket(bucket)
            current = record.objects.get(key)
            if if_none_match and current is not None:
                raise AwsFault("PreconditionFailed", _PRECONDITION, 412)
            if if_match is not None and (current is None or current.etag.strip('"') != if_match.strip('"')):
                raise AwsFault("PreconditionFailed", _PRECONDITION, 412)
            version = uuid.uuid4().hex if record.versioning == "Enabled" else None
            stored = StoredObject(body, etag or md5_etag(body), self._now(), content_type, version)
            record.objects[key] = stored
            if record.versioning:
                history = record.versions.setdefault(key, [])
                if record.versioning == "Suspended":  # a suspended bucket overwrites its "null" version
                    history[:] = [v for v in history if v.version_id is not None]
                history.append(stored)
            return stored

    def get(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        with self._lock:
            record = self._bucket(bucket)
            if version_id is not None:
                wanted = None if version_id == "null" else version_id
                for stored in record.versions.get(key, []):
                    if stored.version_id == wanted:
                        return stored
                raise AwsFault("NoSuchVersion", "The specified version does not exist.", 404)
            try:
                return record.objects[key]
            except KeyError:
                raise AwsFault("NoSuchKey", "The specified key does not exist.", 404) from None

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._bucket(bucket).objects.pop(key, None)  # versions stay restorable, like a delete marker

    def list(self, bucket: str, prefix: str = "") -> list[tuple[str, StoredObject]]:
        with self._lock:
            return sorted((k, v) for k, v in self._bucket(bucket).objects.items() if k.startswith(prefix))

    def list_versions(self, bucket: str, prefix: str = "") -> list[tuple[str, StoredObject, bool]]:
        """(key, version, is latest) for every kept version under ``prefix``: keys in order, newest version first."""
        with self._lock:
            record = self._bucket(bucket)
            out = []
            for key in sorted(k for k in set(record.versions) | set(record.objects) if k.startswith(prefix)):
                history = record.versions.get(key) or [record.objects[key]]
                current = record.objects.get(key)
                out.extend((key, v, v is current) for v in reversed(history))
            return out

    # --- multipart uploads ------------------------------------------------------------------------------
    def start_upload(self, bucket: str, key: str, content_type: str) -> str:
        with self._lock:
            self._bucket(bucket)
            upload_id = uuid.uuid4().hex
            self._uploads[upload_id] = MultipartUpload(bucket, key, upload_id, self._now(), content_type)
            return upload_id

    def _upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        upload = self._uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise AwsFault("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or "
                                           "the upload may have been aborted or completed.", 404)
        return upload

    def put_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
        if not 1 <= number <= 10000:
            raise AwsFault("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        with self._lock:
            etag = md5_etag(body)
            self._upload(bucket, key, upload_id).parts[number] = (body, etag)
            return etag

    def complete_upload(self, bucket: str, key: str, upload_id: str,
                        parts: list[tuple[int, str]]) -> StoredObject:
        """Join the named parts in order; the ETag is the MD5 of the parts' binary MD5s, then ``-<count>``."""
        with self._lock:
            upload = self._upload(bucket, key, upload_id)
            numbers = [n for n, _ in parts]
            if not parts or numbers != sorted(set(numbers)):
                raise AwsFault("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                                                   "ordered by part number.")
            bodies, digests = [], []
            for number, etag in parts:
                held = upload.parts.get(number)
                if held is None or held[1].strip('"') != etag.strip('"'):
                    raise AwsFault("InvalidPart", "One or more of the specified parts could not be found. The part "
                                                  "may not have been uploaded, or the specified entity tag may not "
                                                  "match the part's entity tag.")
                bodies.append(held[0])
                digests.append(bytes.fromhex(held[1].strip('"')))
            joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
            stored = self.put(bucket, key, b"".join(bodies), content_type=upload.content_type,
                              etag=f'"{joined}-{len(parts)}"')
            del self._uploads[upload_id]
            return stored

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        with self._lock:
            self._upload(bucket, key, upload_id)
            del self._uploads[upload_id]
