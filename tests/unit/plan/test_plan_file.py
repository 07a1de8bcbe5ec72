"""The plan file: versioned JSON that validates against schemas/plan.schema.json and reads back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.core.desired import Amount
from reconciler.files.planfile import read_plan, write_plan
from reconciler.plan.build import make_plan
from reconciler.plan.planfile import PlanFileError, plan_to_json
from tests.fakes import demo_org, instance, live_stack_set, make_desired, make_live, make_template, wave

SCHEMA = json.loads((Path(__file__).parents[3] / "schemas" / "plan.schema.json").read_text())


def a_plan():
    desired = make_desired(organization=True, onboard_management=True, exclude_accounts=["222200000002"],
                           waves=[wave("canary", sample=1), wave("rest", rest=True, max_concurrent="50%")])
    live = make_live(demo_org(), stack_sets=[live_stack_set(desired, make_template("24.3"))],
                     instances=[instance("clumio-org", "222200000001", "us-east-1"),
                                instance("clumio-org", "555500000001", "us-east-1")])
    return make_plan(desired, live, template=make_template("24.4"))


def test_plan_json_has_the_documented_fields_and_validates() -> None:
    data = plan_to_json(a_plan())
    jsonschema.validate(data, SCHEMA)
    assert data["format_version"] == 1
    assert set(data["summary"]) == {"add", "change", "remove", "skipped"}
    assert {"stack_set", "account", "region", "action", "reason", "wave"} <= set(data["changes"][0])
    assert {"account", "reason"} <= set(data["skipped"][0])
    assert data["live_fingerprint"].startswith("sha256:") and data["desired_digest"]


def test_written_plan_reads_back_equal(tmp_path: Path) -> None:
    plan = a_plan()
    path = tmp_path / "out" / "plan.json"
    write_plan(plan, path)
    assert read_plan(path) == plan
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]  # no temp file left behind


def test_unknown_format_version_is_refused_clearly(tmp_path: Path) -> None:
    data = plan_to_json(a_plan())
    data["format_version"] = 99
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError) as err:
        read_plan(path)
    assert "format_version 99" in err.value.message and err.value.hint


def test_garbage_plan_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{not json")
    with pytest.raises(PlanFileError, match="not JSON"):
        read_plan(path)
    with pytest.raises(PlanFileError, match="cannot read"):
        read_plan(tmp_path / "missing.json")
    path.write_text(json.dumps({"format_version": 1}))
    with pytest.raises(PlanFileError, match="not a valid clumio-org plan"):
        read_plan(path)


def test_wave_amounts_read_back_as_amounts_and_a_garbled_one_is_refused(tmp_path: Path) -> None:
    plan = a_plan()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    rest = read_plan(path).waves[-1]
    assert (rest.max_concurrent, str(rest.max_concurrent)) == (Amount(percent=50), "50%")
    data = json.loads(path.read_text())
    assert data["waves"][-1]["max_concurrent"] == "50%"  # the file format keeps its JSON strings
    data["waves"][-1]["failure_tolerance"] = "ten"  # once silently a failure budget of 0
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match="not a valid clumio-org plan"):
        read_plan(path)
