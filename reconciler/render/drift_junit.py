"""The drift report as JUnit XML, so CI dashboards chart drift like test results.

One test case per finding (``classname`` = ``clumio-org.drift.<category>``, ``name`` = where): a failure when its
category counts for the exit code, skipped when ``--fail-on`` leaves it out or the ignore file silenced it. Every
clean category adds one passing case, so totals stay comparable night to night. Failures exist exactly when the
exit code is 2.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.drift.model import Category, DriftReport, Finding


def _case(suite: ET.Element, category: Category, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=f"clumio-org.drift.{category.value}", name=name, time="0")


def _text(f: Finding) -> str:
    lines = [f"{f.severity.value}: {f.reason}", f"where: {f.where}"]
    lines += [f"{k}: {v}" for k, v in f.details]
    return "\n".join(lines)


def render_drift_junit(report: DriftReport) -> str:
    stamp = report.generated_at.strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="clumio-org drift")
    suite = ET.SubElement(root, "testsuite", name="clumio-org drift", timestamp=stamp)
    failures = skipped = tests = 0
    summary = report.summary()
    for category in Category:
        if summary[category] == 0:
            _case(suite, category, f"{category.value}: no drift")
            tests += 1
    for f in report.findings:
        case = _case(suite, f.category, f"{f.where}: {f.reason}")
        tests += 1
        if f.category in report.fail_on:
            failure = ET.SubElement(case, "failure", message=f.reason, type=f.severity.value)
            failure.text = _text(f)
            failures += 1
        else:
            ET.SubElement(case, "skipped", message="not counted: category outside --fail-on")
            skipped += 1
    for i in report.ignored:
        case = _case(suite, i.finding.category, f"{i.finding.where}: {i.finding.reason}")
        ET.SubElement(case, "skipped", message=f"ignored until {i.expires} ({i.owner}): {i.entry_reason}")
        tests += 1
        skipped += 1
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
