"""Drift renderers: the same report as text, Markdown, JSON (schema-valid) and JUnit, with one exit-code meaning."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from reconciler.drift.model import Category, Detection, DriftReport, Finding, IgnoredFinding, Severity
from reconciler.render.drift_json import render_drift_json
from reconciler.render.drift_junit import render_drift_junit
from reconciler.render.drift_markdown import MARKER, render_drift_markdown
from reconciler.render.drift_text import render_drift_text

SCHEMA = json.loads((Path(__file__).parents[3] / "schemas" / "drift-report.schema.json").read_text())
WHEN = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
MISSING = Finding(Category.MEMBERSHIP, Severity.ERROR, "no stack instance: auto-deployment did not reach this account",
                  "clumio-org", "300000000005", "us-east-1", (("ou_path", "/Workloads/Prod"),))
UPDATE = Finding(Category.VERSION, Severity.WARNING, "update available: Clumio template 24.5 (StackSet runs 24.4)",
                 "clumio-org", details=(("latest_version", "24.5"),))
IGNORED = IgnoredFinding(Finding(Category.STATUS, Severity.ERROR, "FAILED: x", "clumio-org", "300000000001",
                                 "us-west-2"), "ticket OPS-1", "alice", "2026-12-31")


def report(findings=(MISSING, UPDATE), fail_on=frozenset(Category), ignored=(IGNORED,)) -> DriftReport:
    return DriftReport(WHEN, "clumio-org.yaml", tuple(findings), tuple(ignored),
                       (Detection("clumio-org", False, "COMPLETED", WHEN, 7200.0),), fail_on)


def test_json_report_follows_the_schema_and_summarises_by_category() -> None:
    data = json.loads(render_drift_json(report()))
    jsonschema.validate(data, SCHEMA)
    assert data["summary"] == {"membership": 1, "status": 0, "version": 1, "resources": 0, "clumio": 0, "ignore": 0}
    assert data["findings"][0]["account"] == "300000000005" and data["findings"][0]["details"] == {
        "ou_path": "/Workloads/Prod"}
    assert data["ignored"][0]["ignore"] == {"reason": "ticket OPS-1", "owner": "alice", "expires": "2026-12-31"}
    assert (data["drifted"], data["exit_code"]) == (True, 2)


def test_clean_report_is_schema_valid_and_exit_zero_everywhere() -> None:
    clean = report(findings=(), ignored=())
    data = json.loads(render_drift_json(clean))
    jsonschema.validate(data, SCHEMA)
    assert data["exit_code"] == 0 and clean.exit_code == 0
    assert render_drift_text(clean).startswith("No drift")
    assert "no drift" in render_drift_markdown(clean)
    suite = ET.fromstring(render_drift_junit(clean))
    assert suite.get("failures") == "0" and suite.get("tests") == str(len(Category))


def test_junit_has_one_failing_case_per_finding_and_a_passing_case_per_clean_category() -> None:
    root = ET.fromstring(render_drift_junit(report()))
    cases = root.iter("testcase")
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert len(failures) == 2 and root.get("failures") == "2"
    assert {c.get("classname") for c in failures} == {"clumio-org.drift.membership", "clumio-org.drift.version"}
    passing = [c.get("name") for c in cases if c.find("failure") is None and c.find("skipped") is None]
    assert sorted(passing) == sorted(f"{c.value}: no drift" for c in (Category.STATUS, Category.RESOURCES,
                                                                    Category.CLUMIO, Category.IGNORE))


def test_fail_on_narrows_what_counts_in_every_format() -> None:
    narrowed = report(fail_on=frozenset({Category.STATUS}))
    assert narrowed.exit_code == 0
    assert json.loads(render_drift_json(narrowed))["exit_code"] == 0
    assert ET.fromstring(render_drift_junit(narrowed)).get("failures") == "0"
    assert "not counted" in render_drift_text(narrowed)


def test_markdown_lists_categories_worst_first_with_a_marker_and_collapsed_details() -> None:
    md = render_drift_markdown(report())
    assert md.startswith(MARKER)
    assert md.index("#### Membership") < md.index("#### Template and parameters")
    assert "<details><summary>Details</summary>" in md and "/Workloads/Prod" in md
    assert "Ignored by the ignore file (1)" in md


def test_markdown_stays_under_its_size_cap_and_says_what_it_left_out() -> None:
    many = [Finding(Category.MEMBERSHIP, Severity.ERROR, "no stack instance: account in /Big is targeted",
                    "clumio-org", f"{700000000000 + i}", "us-east-1") for i in range(5000)]
    md = render_drift_markdown(report(findings=many), max_chars=20_000)
    assert len(md) <= 20_000
    assert "not shown (size limit)" in md and "--format json" in md


def test_text_shows_reason_where_and_detection_age() -> None:
    text = render_drift_text(report())
    assert "ERROR   membership clumio-org/300000000005/us-east-1" in text
    assert "detection COMPLETED 2 h ago" in text
    assert "Ignored (1" in text and "owner alice" in text


def test_markdown_escapes_aws_text_that_would_break_the_table_or_open_html() -> None:
    odd = Finding(Category.STATUS, Severity.ERROR, "FAILED: <b>role</b> | policy", "clumio-org", "300000000001",
                  "us-east-1", (("status_reason", "<script>x</script>"),))
    md = render_drift_markdown(report(findings=(odd,), ignored=()))
    assert "<b>" not in md and "<script>" not in md
    assert "FAILED: &lt;b&gt;role&lt;/b&gt; \\| policy" in md
