"""Faults the sandbox's S3 injects on chosen keys: 5xx, SlowDown, latency, and PreconditionFailed (another writer
won the compare-and-swap), before the call takes effect or after it (the write landed, the answer was lost).

A fault is a dict (world file ``faults.s3``, or the ``s3-fault`` event): ``key`` (a glob on the object key, default
``*``), ``bucket`` (glob, default ``*``), ``methods`` (default every method), ``code`` (``InternalError`` 500,
``ServiceUnavailable`` 503, ``SlowDown`` 503, ``PreconditionFailed`` 412; none for latency only), ``latency_ms``
(real milliseconds to wait first), ``count`` (how many matching calls it hits; absent or null: every one), and
``after`` (true: the call takes effect, then the error is answered).
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

from reconciler.sandbox.api import AwsFault

STATUS = {"InternalError": 500, "ServiceUnavailable": 503, "SlowDown": 503, "PreconditionFailed": 412,
          "RequestTimeout": 400}
MESSAGES = {
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
    "SlowDown": "Please reduce your request rate.",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "RequestTimeout": "Your socket connection to the server was not read from or written to within the timeout "
                      "period.",
}


def validate(fault: Any) -> dict[str, Any]:
    """One fault spec, checked (ValueError names what is wrong)."""
    if not isinstance(fault, dict):
        raise ValueError("an S3 fault is an object with key, methods, code, latency_ms, count, after")
    unknown = set(fault) - {"key", "bucket", "methods", "code", "latency_ms", "count", "after"}
    if unknown:
        raise ValueError(f"unknown S3 fault fields: {', '.join(sorted(unknown))}")
    code = fault.get("code")
    if code is not None and code not in STATUS:
        raise ValueError(f"unknown S3 fault code {code!r}; known: {', '.join(sorted(STATUS))}")
    if code is None and not fault.get("latency_ms"):
        raise ValueError("an S3 fault needs a code or latency_ms")
    methods = fault.get("methods")
    if isinstance(methods, str):  # `sandbox event s3-fault methods=PUT,DELETE`
        methods = [m for m in methods.split(",") if m.strip()]
    return {"key": str(fault.get("key") or "*"), "bucket": str(fault.get("bucket") or "*"),
            "methods": sorted({str(m).strip().upper() for m in methods}) if methods else None, "code": code,
            "latency_ms": float(fault.get("latency_ms") or 0), "after": bool(fault.get("after")),
            "count": None if fault.get("count") is None else int(fault["count"])}


def _matching(world: Any, method: str, bucket: str, key: str, *, after: bool) -> list[dict[str, Any]]:
    hits = []
    for fault in getattr(world, "s3_faults", ()):
        if fault["after"] != after or fault["count"] == 0:
            continue
        if fault["methods"] is not None and method not in fault["methods"]:
            continue
        if not fnmatch.fnmatchcase(bucket, fault["bucket"]) or not fnmatch.fnmatchcase(key, fault["key"]):
            continue
        hits.append(fault)
    return hits


def _hit(world: Any, fault: dict[str, Any]) -> AwsFault | None:
    with world.lock:
        if fault["count"] is not None:
            if fault["count"] <= 0:
                return None
            fault["count"] -= 1
        world.s3_fault_hits = getattr(world, "s3_fault_hits", 0) + 1
    if fault["latency_ms"]:
        time.sleep(fault["latency_ms"] / 1000.0)
    code = fault["code"]
    return None if code is None else AwsFault(code, MESSAGES[code], STATUS[code])


def before_call(world: Any, method: str, bucket: str, key: str) -> AwsFault | None:
    """Raise the first matching before-fault; return an after-fault to answer once the call took effect."""
    for fault in _matching(world, method, bucket, key, after=False):
        error = _hit(world, fault)
        if error is not None:
            raise error
    for fault in _matching(world, method, bucket, key, after=True):
        error = _hit(world, fault)
        if error is not None:
            return error
    return None

