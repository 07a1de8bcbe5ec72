"""What a reviewer sees: text rows and summary line, the PR comment, JSON."""

from __future__ import annotations

import json

from reconciler.core.live import StackInstanceDetailedStatus, StackInstanceStatus
from reconciler.plan.build import make_plan
from reconciler.render.json import render_plan_json
from reconciler.render.markdown import STICKY_MARKER, render_plan_markdown
from reconciler.render.text import NO_CHANGES, duration, render_plan
from tests.fakes import (
    connection,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
    wave,
)

T = make_template("24.4")


def mixed_plan():
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"],
                           waves=[wave("canary", accounts=["222200000001"]), wave("rest", rest=True)])
    live = make_live(demo_org(), stack_sets=[live_stack_set(desired, T)], instances=[
        instance("clumio-org", "555500000001", "us-east-1"),
        instance("clumio-org", "333300000001", "us-east-1", StackInstanceStatus.OUTDATED,
                 StackInstanceDetailedStatus.FAILED, "Role already exists"),
    ])
    return make_plan(desired, live, template=T)


def test_text_groups_rows_by_wave_and_ends_with_the_summary_line() -> None:
    text = render_plan(mixed_plan())
    lines = text.rstrip("\n").splitlines()
    assert lines[-1] == "Plan: 11 to add, 1 to change, 1 to remove."
    assert text.index("Wave 1/2 'canary'") < text.index("Wave 2/2 'rest'") < text.index("Removals")
    assert "    + 222200000001  us-east-1       new account in /Security" in lines
    assert any(line.strip().startswith("~ 333300000001  us-east-1") and "Role already exists" in line
               for line in lines)
    assert any(line.strip().startswith("- 555500000001  us-east-1") for line in lines)
    assert "Skipped accounts (4):" in text and "SUSPENDED" in text
    assert "\033[" not in text


def test_text_says_no_changes_when_there_are_none() -> None:
    desired = make_desired(ous=["/Security"])
    keys = [("222200000001", r) for r in ("us-east-1", "us-west-2")] + [("222200000002", r) for r in
                                                                        ("us-east-1", "us-west-2")]
    live = make_live(demo_org(), stack_sets=[live_stack_set(desired, T)],
                     instances=[instance("clumio-org", a, r) for a, r in keys],
                     connections=[connection(a, r) for a, r in keys])
    text = render_plan(make_plan(desired, live, template=T))
    assert text.rstrip("\n").splitlines()[-1] == NO_CHANGES


def test_color_only_when_asked() -> None:
    assert "\033[32m+" in render_plan(mixed_plan(), color=True)


def test_markdown_leads_with_the_summary_and_folds_per_instance_rows() -> None:
    md = render_plan_markdown(mixed_plan())
    assert md.startswith(STICKY_MARKER)
    assert "**Plan: 11 to add, 1 to change, 1 to remove.**" in md
    assert md.index("#### Waves") < md.index("Changes by OU and region") < md.index("#### Removals") \
        < md.index("<details>")
    assert "| `/Workloads/Prod` | +1 ~1 | +2 |" in md
    assert "| + | 2 | new account in /Workloads/Dev | 1 × 2 (us-east-1, us-west-2) | `/Workloads/Dev` |" in md
    assert md.count("<details>") == md.count("</details>")
    assert "left out" not in md  # everything fits: nothing to apologise for


def test_json_render_is_the_plan_file_document() -> None:
    data = json.loads(render_plan_json(mixed_plan()))
    assert data["summary"] == {"add": 11, "change": 1, "remove": 1, "skipped": 4}
    assert list(data)[0] == "overview" and data["overview"]["summary"] == data["summary"]
    assert [w["wave"] for w in data["overview"]["waves"]] == ["canary", "rest", "removals"]


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (45, 150, 3900)] == ["45s", "2m 30s", "1h 05m"]
