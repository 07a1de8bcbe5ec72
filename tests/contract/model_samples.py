"""Sample values that satisfy a botocore shape's constraints (pattern, length), for model-driven contract tests."""

from __future__ import annotations

import re

from botocore.model import Shape

# Values of the forms AWS ids take; the first one a shape's pattern and length accept is used.
_CANDIDATES = (
    "ssssssssssss", "123456789012", "ou-ab12-abcd1234", "r-ab12", "us-east-1", "s3://bucket/accounts.csv",
    "arn:aws:iam::123456789012:role/sample-role", "sample-name", "000000", "SUCCEEDED", "123456",
    "o-abcdefghij",
)


def valid_string(shape: Shape) -> str:
    """A string ``shape`` accepts (its pattern full-matched, its min/max length held); at least 12 characters when
    the shape allows, so a round trip carries a recognisable value."""
    low = int(shape.metadata.get("min", 1))
    high = int(shape.metadata.get("max", 1_000_000))
    pattern = shape.metadata.get("pattern")
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error:  # Java-only classes (\\p{L}): the sandbox does not check these either
        compiled = None
    filler = "s" * max(low, 12)
    for candidate in (filler, *_CANDIDATES):
        if low <= len(candidate) <= high and (compiled is None or compiled.fullmatch(candidate)):
            return candidate
    return filler  # no candidate fits: an output sample (never validated); an input would fail loudly
