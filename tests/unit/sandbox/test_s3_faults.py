"""S3 fault specs as the world file and `clumio-org sandbox event s3-fault KEY=VALUE…` give them."""

from __future__ import annotations

import pytest

from reconciler.cli.sandbox import parse_event_args
from reconciler.sandbox.s3_faults import validate


def test_an_event_line_becomes_a_fault_spec() -> None:
    spec = validate(parse_event_args(["key=prod/*.json", "methods=PUT,delete", "code=InternalError", "count=3",
                                      "after=true"]))
    assert spec == {"key": "prod/*.json", "bucket": "*", "methods": ["DELETE", "PUT"], "code": "InternalError",
                    "latency_ms": 0.0, "after": True, "count": 3}


@pytest.mark.parametrize("args, message", [
    ({"code": "Teapot"}, "unknown S3 fault code 'Teapot'"),
    ({"key": "*"}, "needs a code or latency_ms"),
    ({"code": "SlowDown", "rate": 1}, "unknown S3 fault fields: rate"),
])
def test_a_bad_fault_spec_names_what_is_wrong(args: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(args)
