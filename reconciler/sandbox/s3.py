"""Enough of S3's REST-XML protocol for a state file, its lock object and CloudFormation TemplateURLs.

Path-style (``/bucket/key``; boto3 picks it for an IP endpoint) and ``bucket.localhost`` virtual-hosted style.
Conditional writes follow S3: ``If-None-Match: *`` on an existing key and an ``If-Match`` ETag that differs both
answer 412 PreconditionFailed; DeleteObject and GetObject honour ``If-Match`` too (GetObject ``If-None-Match`` → 304).
Output headers and XML are written from botocore's S3 model, like every other protocol here.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from typing import Any

from botocore.model import OperationModel

from reconciler.sandbox.api import AwsFault, SandboxWorld, StoredObject
from reconciler.sandbox.protocols import (
    WireRequest,
    WireResponse,
    http_date,
    service_model,
    xml_members,
)

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_NO_BODY_ERRORS = ("HEAD",)


def _locate(request: WireRequest) -> tuple[str, str]:
    """(bucket, key): path-style, or virtual-hosted ``bucket.localhost`` (what boto3 picks for a localhost URL)."""
    host = request.headers.get("host", "").rsplit(":", 1)[0]
    if host.endswith(".localhost"):
        return host[: -len(".localhost")], urllib.parse.unquote(request.path.lstrip("/"))
    bucket, _, key = request.path.lstrip("/").partition("/")
    return urllib.parse.unquote(bucket), urllib.parse.unquote(key)


def _error(request: WireRequest, fault: AwsFault, bucket: str, key: str) -> WireResponse:
    if request.method in _NO_BODY_ERRORS:
        return WireResponse(fault.status, b"", {"x-amz-request-id": "sandbox"})
    extra = f"<Key>{key}</Key>" if key else ""
    if fault.code == "NoSuchBucket":
        extra = f"<BucketName>{bucket}</BucketName>"
    if fault.code == "PreconditionFailed":
        condition = "If-None-Match" if "if-none-match" in request.headers else "If-Match"
        extra = f"<Condition>{condition}</Condition>"
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{fault.code}</Code>'
            f"<Message>{fault.message}</Message>{extra}<RequestId>sandbox</RequestId></Error>")
    return WireResponse(fault.status, body.encode(), {"Content-Type": "application/xml"})


def _decode_aws_chunked(body: bytes) -> bytes:
    """Strip ``aws-chunked`` framing (size;chunk-signature=…\\r\\n data \\r\\n …, then trailers)."""
    out, pos = [], 0
    while pos < len(body):
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end].split(b";")[0], 16)
        if size == 0:
            break
        start = line_end + 2
        out.append(body[start:start + size])
        pos = start + size + 2
    return b"".join(out)


def _same_etag(given: str, etag: str) -> bool:
    return given.strip().strip('"') == etag.strip('"')


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _headers(operation: OperationModel, values: dict[str, Any]) -> dict[str, str]:
    """Output members that S3 sends as headers, named by the model."""
    headers: dict[str, str] = {}
    shape = operation.output_shape
    if shape is None:
        return headers
    for name, value in values.items():
        member = shape.members[name]
        if member.serialization.get("location") != "header" or value is None:
            continue
        if member.type_name == "timestamp":
            text = http_date(value)
        elif member.type_name == "boolean":
            text = "true" if value else "false"
        else:
            text = str(value)
        headers[member.serialization["name"]] = text
    return headers


def _object_headers(operation_name: str, stored: StoredObject) -> dict[str, str]:
    operation = service_model("s3").operation_model(operation_name)
    return _headers(operation, {
        "ETag": _quoted(stored.etag),
        "LastModified": stored.last_modified,
        "ContentLength": len(stored.body),
        "ContentType": stored.content_type,
    })


def handle(world: SandboxWorld, request: WireRequest, *, access_key: str, region: str) -> WireResponse:
    """One S3 call; anonymous callers (empty ``access_key``) may only read."""
    bucket, key = _locate(request)
    try:
        if not access_key and request.method not in ("GET", "HEAD"):
            raise AwsFault("AccessDenied", "Access Denied", 403)
        return _dispatch(world, request, bucket, key)
    except AwsFault as fault:
        return _error(request, fault, bucket, key)


def _dispatch(world: SandboxWorld, request: WireRequest, bucket: str, key: str) -> WireResponse:
    objects = world.objects
    method = request.method
    if not bucket:
        raise AwsFault("NotImplemented", "The sandbox does not list buckets.", 501)
    if not key:
        if method == "PUT":
            with world.lock:
                objects.create_bucket(bucket)
            return WireResponse(200, b"", {"Location": f"/{bucket}"})
        if method == "HEAD":
            if not objects.bucket_exists(bucket):
                raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404)
            return WireResponse(200, b"", {"x-amz-bucket-region": "us-east-1"})
        if method == "GET":
            return _list_objects(world, request, bucket)
        raise AwsFault("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    if method == "PUT":
        if "x-amz-copy-source" in request.headers:
            raise AwsFault("NotImplemented", "The sandbox does not copy objects.", 501)
        body = request.body
        if "aws-chunked" in request.headers.get("content-encoding", "") or request.headers.get(
                "x-amz-content-sha256", "").startswith("STREAMING-"):
            body = _decode_aws_chunked(body)
        if_none_match = request.headers.get("if-none-match", "").strip() == "*"
        if_match = request.headers.get("if-match")
        with world.lock:
            stored = objects.put(bucket, key, body, if_none_match=if_none_match,
                                 if_match=if_match.strip() if if_match else None,
                                 content_type=request.headers.get("content-type", "application/octet-stream"))
        headers = _headers(service_model("s3").operation_model("PutObject"), {"ETag": _quoted(stored.etag)})
        return WireResponse(200, b"", headers)
    if method in ("GET", "HEAD"):
        with world.lock:
            stored = objects.get(bucket, key)
        name = "GetObject" if method == "GET" else "HeadObject"
        headers = _object_headers(name, stored)
        if_match = request.headers.get("if-match")
        if if_match is not None and not _same_etag(if_match, stored.etag):
            raise AwsFault("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
        unless = request.headers.get("if-none-match")
        if unless is not None and (unless.strip() == "*" or _same_etag(unless, stored.etag)):
            return WireResponse(304, b"", {"ETag": headers.get("ETag", _quoted(stored.etag))})
        return WireResponse(200, stored.body if method == "GET" else b"", headers)
    if method == "DELETE":
        with world.lock:  # a conditional delete (If-Match) releases a lock only if it is still ours
            if_match = request.headers.get("if-match")
            if if_match is not None:
                try:
                    current = objects.get(bucket, key).etag
                except AwsFault:
                    current = None
                if current is None or not _same_etag(if_match, current):
                    raise AwsFault("PreconditionFailed",
                                   "At least one of the pre-conditions you specified did not hold", 412)
            objects.delete(bucket, key)
        return WireResponse(204, b"")
    raise AwsFault("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


def _list_objects(world: SandboxWorld, request: WireRequest, bucket: str) -> WireResponse:
    def arg(name: str, default: str = "") -> str:
        return request.query.get(name, [default])[0]

    prefix = arg("prefix")
    max_keys = max(0, min(int(arg("max-keys", "1000") or 1000), 1000))
    after = arg("continuation-token") or arg("start-after")
    with world.lock:
        if not world.objects.bucket_exists(bucket):
            raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404)
        listed = sorted(world.objects.list(bucket, prefix), key=lambda pair: pair[0])
    delimiter = arg("delimiter")
    entries: list[tuple[str, StoredObject | None]] = []  # objects, and common prefixes (None) under a delimiter
    for key, stored in listed:
        if after and key <= after:
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut < 0:
            entries.append((key, stored))
            continue
        common = key[: cut + len(delimiter)]
        if (not after or common > after) and (not entries or entries[-1][0] != common):
            entries.append((common, None))
    page, more = entries[:max_keys], len(entries) > max_keys
    output: dict[str, Any] = {
        "IsTruncated": more,
        "Contents": [{"Key": k, "LastModified": o.last_modified, "ETag": _quoted(o.etag), "Size": len(o.body),
                      "StorageClass": "STANDARD"} for k, o in page if o is not None],
        "Name": bucket,
        "Prefix": prefix,
        "MaxKeys": max_keys,
        "KeyCount": len(page),
    }
    common_prefixes = [{"Prefix": k} for k, o in page if o is None]
    if delimiter:
        output["Delimiter"] = delimiter
    if common_prefixes:
        output["CommonPrefixes"] = common_prefixes
    if arg("continuation-token"):
        output["ContinuationToken"] = arg("continuation-token")
    if arg("start-after"):
        output["StartAfter"] = arg("start-after")
    if more:
        output["NextContinuationToken"] = page[-1][0]
    shape = service_model("s3").operation_model("ListObjectsV2").output_shape
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_XMLNS}">']
    xml_members("s3", shape, output, out, skip_locations=True)
    out.append("</ListBucketResult>")
    return WireResponse(200, "".join(out).encode(), {"Content-Type": "application/xml"})


def etag_of(body: bytes) -> str:
    """The ETag S3 gives a single-part upload: the quoted MD5 of the body."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
