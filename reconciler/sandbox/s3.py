"""Enough of S3's REST-XML protocol for a state file, its lock object, CloudFormation TemplateURLs and ``aws s3 cp``.

Path-style (``/bucket/key``; boto3 picks it for an IP endpoint) and ``bucket.localhost`` virtual-hosted style.
Conditional writes follow S3: ``If-None-Match: *`` on an existing key and an ``If-Match`` ETag that differs both
answer 412 PreconditionFailed; DeleteObject and GetObject honour ``If-Match`` too (GetObject ``If-None-Match`` → 304).
GetObject serves byte ranges (206), uploads may be multipart, buckets are listed, deleted and versioned
(docs/reference/sandbox-fidelity.md §2).
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
from reconciler.sandbox.s3_xml import completed_parts, xml_text_of

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


def handle(world: SandboxWorld, request: WireRequest, *, access_key: str, region: str) -> WireResponse:
    """One S3 call; anonymous callers (empty ``access_key``) may only read. Injected faults (world ``s3_faults``,
    see :mod:`reconciler.sandbox.s3_faults`) answer before or after the call takes effect."""
    from reconciler.sandbox.s3_faults import before_call

    bucket, key = _locate(request)
    try:
        if access_key:
            from reconciler.sandbox.identity import check_credentials

            check_credentials(world, access_key, "s3")
        if not access_key and request.method not in ("GET", "HEAD"):
            raise AwsFault("AccessDenied", "Access Denied", 403)
        late = before_call(world, request.method, bucket, key)
        response = _dispatch(world, request, bucket, key)
        if late is not None:  # the call took effect; its answer is "lost"
            raise late
        return response
    except AwsFault as fault:
        return _error(request, fault, bucket, key)


def _dispatch(world: SandboxWorld, request: WireRequest, bucket: str, key: str) -> WireResponse:
    if not bucket:
        if request.method == "GET":
            return _list_buckets(world)
        raise AwsFault("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    if not key:
        return _bucket_call(world, request, bucket)
    query = request.query
    if "uploads" in query or "uploadId" in query:
        return _multipart_call(world, request, bucket, key)
    return _object_call(world, request, bucket, key)


def _bucket_call(world: SandboxWorld, request: WireRequest, bucket: str) -> WireResponse:
    objects, method, query = world.objects, request.method, request.query
    if "versioning" in query:
        if method == "PUT":
            status = xml_text_of(request.body, "Status")
            with world.lock:
                objects.set_versioning(bucket, status)
            return WireResponse(200, b"")
        if method == "GET":
            with world.lock:
                status = objects.versioning(bucket)
            return _document("GetBucketVersioning", "VersioningConfiguration", {"Status": status or None})
    if method == "PUT":
        with world.lock:
            objects.create_bucket(bucket)
        return WireResponse(200, b"", {"Location": f"/{bucket}"})
    if method == "HEAD":
        if not objects.bucket_exists(bucket):
            raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404)
        return WireResponse(200, b"", {"x-amz-bucket-region": "us-east-1"})
    if method == "DELETE":
        with world.lock:
            objects.delete_bucket(bucket)
        return WireResponse(204, b"")
    if method == "GET":
        if "location" in query:
            if not objects.bucket_exists(bucket):
                raise AwsFault("NoSuchBucket", "The specified bucket does not exist", 404)
            # us-east-1 is the empty LocationConstraint; botocore reads the element's text directly.
            body = f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{_XMLNS}"/>'
            return WireResponse(200, body.encode(), {"Content-Type": "application/xml"})
        if "versions" in query:
            return _list_versions(world, request, bucket)
        return _list_objects(world, request, bucket)
    raise AwsFault("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


def _object_call(world: SandboxWorld, request: WireRequest, bucket: str, key: str) -> WireResponse:
    objects, method = world.objects, request.method
    if method == "PUT":
        if "x-amz-copy-source" in request.headers:
            raise AwsFault("NotImplemented", "The sandbox does not copy objects.", 501)
        if_none_match = request.headers.get("if-none-match", "").strip() == "*"
        if_match = request.headers.get("if-match")
        with world.lock:
            stored = objects.put(bucket, key, _payload(request), if_none_match=if_none_match,
                                 if_match=if_match.strip() if if_match else None,
                                 content_type=request.headers.get("content-type", "application/octet-stream"))
        return WireResponse(200, b"", _headers(service_model("s3").operation_model("PutObject"), {
            "ETag": _quoted(stored.etag), "VersionId": stored.version_id}))
    if method in ("GET", "HEAD"):
        version = request.query.get("versionId", [None])[0]
        with world.lock:
            stored = objects.get(bucket, key, version)
        return _read_object(request, stored)
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


def _payload(request: WireRequest) -> bytes:
    body = request.body
    if "aws-chunked" in request.headers.get("content-encoding", "") or request.headers.get(
            "x-amz-content-sha256", "").startswith("STREAMING-"):
        body = _decode_aws_chunked(body)
    return body


def _read_object(request: WireRequest, stored: StoredObject) -> WireResponse:
    """GetObject / HeadObject: conditions first, then the whole body (200) or the asked byte range (206)."""
    name = "GetObject" if request.method == "GET" else "HeadObject"
    if_match = request.headers.get("if-match")
    if if_match is not None and not _same_etag(if_match, stored.etag):
        raise AwsFault("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    unless = request.headers.get("if-none-match")
    if unless is not None and (unless.strip() == "*" or _same_etag(unless, stored.etag)):
        return WireResponse(304, b"", {"ETag": _quoted(stored.etag)})
    size = len(stored.body)
    span = _byte_range(request.headers.get("range", ""), size)
    values: dict[str, Any] = {"ETag": _quoted(stored.etag), "LastModified": stored.last_modified,
                              "ContentLength": size, "ContentType": stored.content_type, "AcceptRanges": "bytes",
                              "VersionId": stored.version_id}
    if span is None:
        return WireResponse(200, stored.body if request.method == "GET" else b"",
                            _headers(service_model("s3").operation_model(name), values))
    first, last = span
    values.update(ContentLength=last - first + 1, ContentRange=f"bytes {first}-{last}/{size}")
    return WireResponse(206, stored.body[first:last + 1] if request.method == "GET" else b"",
                        _headers(service_model("s3").operation_model(name), values))


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range (RFC 9110 §14); None for no range or one S3 ignores.
    A range that starts past the end is 416 InvalidRange."""
    text = header.strip()
    if not text.startswith("bytes=") or "," in text:
        return None  # S3 serves the whole object for a multi-range request
    start_text, dash, end_text = text[len("bytes="):].partition("-")
    if not dash:
        return None
    try:
        if not start_text:  # bytes=-N: the last N bytes
            count = int(end_text)
            if count <= 0:
                raise AwsFault("InvalidRange", "The requested range is not satisfiable", 416)
            return None if size == 0 else (max(0, size - count), size - 1)
        first = int(start_text)
        last = int(end_text) if end_text else size - 1
    except ValueError:
        return None
    if first >= size:
        raise AwsFault("InvalidRange", "The requested range is not satisfiable", 416)
    if last < first:
        return None
    return first, min(last, size - 1)


def _multipart_call(world: SandboxWorld, request: WireRequest, bucket: str, key: str) -> WireResponse:
    objects, method = world.objects, request.method
    upload_id = request.query.get("uploadId", [""])[0]
    if method == "POST" and "uploads" in request.query:
        with world.lock:
            upload_id = objects.start_upload(bucket, key, request.headers.get("content-type",
                                                                              "application/octet-stream"))
        return _document("CreateMultipartUpload", "InitiateMultipartUploadResult",
                         {"Bucket": bucket, "Key": key, "UploadId": upload_id})
    if method == "PUT":
        try:
            number = int(request.query.get("partNumber", [""])[0])
        except ValueError:
            raise AwsFault("InvalidArgument", "Part number must be an integer between 1 and 10000, "
                                              "inclusive") from None
        with world.lock:
            etag = objects.put_part(bucket, key, upload_id, number, _payload(request))
        return WireResponse(200, b"", {"ETag": etag})
    if method == "POST":
        parts = completed_parts(request.body)
        with world.lock:
            stored = objects.complete_upload(bucket, key, upload_id, parts)
        return _document("CompleteMultipartUpload", "CompleteMultipartUploadResult", {
            "Location": f"/{bucket}/{key}", "Bucket": bucket, "Key": key, "ETag": _quoted(stored.etag),
            "VersionId": stored.version_id})
    if method == "DELETE":
        with world.lock:
            objects.abort_upload(bucket, key, upload_id)
        return WireResponse(204, b"")
    raise AwsFault("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


def _document(operation_name: str, root: str, output: dict[str, Any]) -> WireResponse:
    """An S3 XML response body (and its header members) written from the operation's output shape."""
    operation = service_model("s3").operation_model(operation_name)
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_XMLNS}">']
    xml_members("s3", operation.output_shape, {k: v for k, v in output.items() if v is not None}, out,
                skip_locations=True)
    out.append(f"</{root}>")
    return WireResponse(200, "".join(out).encode(), {"Content-Type": "application/xml",
                                                     **_headers(operation, output)})


def _list_buckets(world: SandboxWorld) -> WireResponse:
    with world.lock:
        buckets = world.objects.buckets()
    return _document("ListBuckets", "ListAllMyBucketsResult", {
        "Buckets": [{"Name": name, "CreationDate": created} for name, created in buckets],
        "Owner": {"DisplayName": "sandbox", "ID": "sandbox-canonical-user"}})


def _list_versions(world: SandboxWorld, request: WireRequest, bucket: str) -> WireResponse:
    prefix = request.query.get("prefix", [""])[0]
    with world.lock:
        listed = world.objects.list_versions(bucket, prefix)
    return _document("ListObjectVersions", "ListVersionsResult", {
        "IsTruncated": False, "Name": bucket, "Prefix": prefix, "MaxKeys": 1000,
        "Versions": [{"Key": key, "VersionId": stored.version_id or "null", "IsLatest": latest,
                      "LastModified": stored.last_modified, "ETag": _quoted(stored.etag), "Size": len(stored.body),
                      "StorageClass": "STANDARD"} for key, stored, latest in listed]})


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
