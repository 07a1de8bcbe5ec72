"""The desired-state schema's numeric bounds are AWS's, read from botocore's CloudFormation model
(docs/reference/config-bounds.md, "Numbers AWS accepts")."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest

from reconciler.config.schema import load_schema

INT32_MAX = 2**31 - 1


@pytest.fixture(scope="module")
def model() -> Any:
    return botocore.session.get_session().get_service_model("cloudformation")


def _branch(definition: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(branch for branch in definition["oneOf"] if branch["type"] == kind)


@pytest.mark.parametrize(("definition", "count_shape", "percent_shape"), [
    ("maxConcurrent", "MaxConcurrentCount", "MaxConcurrentPercentage"),
    ("failureTolerance", "FailureToleranceCount", "FailureTolerancePercentage"),
])
def test_wave_amounts_are_bounded_like_operation_preferences(model: Any, definition: str, count_shape: str,
                                                             percent_shape: str) -> None:
    schema = load_schema()["$defs"][definition]
    count, percent = model.shape_for(count_shape).metadata, model.shape_for(percent_shape).metadata
    assert "max" not in count  # so the bound is the wire type's: a 32-bit integer
    for branch in (_branch(schema, "integer"), _branch(schema, "object")["properties"]["count"]):
        assert (branch["minimum"], branch["maximum"]) == (count["min"], INT32_MAX)
    object_percent = _branch(schema, "object")["properties"]["percent"]
    assert (object_percent["minimum"], object_percent["maximum"]) == (percent["min"], percent["max"])
    pattern = re.compile(_branch(schema, "string")["pattern"])
    accepted = [n for n in range(-5, 200) if pattern.match(f"{n}%")]
    assert (accepted[0], accepted[-1], len(accepted)) == (percent["min"], percent["max"],
                                                          percent["max"] - percent["min"] + 1)


def test_stack_set_strings_are_bounded_like_the_api(model: Any) -> None:
    stack_set = load_schema()["$defs"]["stackSet"]["properties"]
    description = model.shape_for("Description").metadata
    assert (stack_set["description"]["minLength"], stack_set["description"]["maxLength"]) == (
        description["min"], description["max"])
    value = model.shape_for("TagValue").metadata
    tags = stack_set["tags"]
    assert (tags["additionalProperties"]["minLength"], tags["additionalProperties"]["maxLength"]) == (
        value["min"], value["max"])
    assert tags["maxProperties"] == model.shape_for("Tags").metadata["max"]
