"""A state knows its deployment: the managed StackSet carries the state's lineage as a tag (never a plan change or
drift), and plan, apply, drift and `state show` refuse a state of another lineage — or no state over a managed
StackSet — naming both and how to recover, unless re-linked (--force) or adopted (--adopt) on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.live import LINEAGE_TAG
from reconciler.state import LocalBackend, State
from tests.integration.apply_support import STACK_SET, cli, demo_config, operations, use_virtual_clock


@pytest.fixture
def world(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_virtual_clock(sandbox_env, monkeypatch)
    return sandbox_env


@pytest.fixture
def applied(world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    config = demo_config(tmp_path)
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    return config


def state_file(config: Path) -> Path:
    return config.parent / ".clumio-org" / "state.json"


def tag_of(world: Any) -> str | None:
    tags = world.client("cloudformation").describe_stack_set(StackSetName=STACK_SET)["StackSet"]["Tags"]
    return next((t["Value"] for t in tags if t["Key"] == LINEAGE_TAG), None)


def test_apply_tags_the_stack_set_with_the_state_lineage_and_the_tag_is_no_change_or_drift(
        world: Any, applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lineage = json.loads(state_file(applied).read_text())["lineage"]
    assert tag_of(world) == lineage
    assert cli(capsys, "plan", "-c", str(applied), "--detailed-exitcode").code == 0
    drift = cli(capsys, "drift", "-c", str(applied))
    assert drift.code == 0, drift.text
    show = cli(capsys, "state", "show", "-c", str(applied))
    assert show.code == 0 and f"StackSet {STACK_SET} carries this lineage" in show.out

    world.world.apply_event("release-template", {"version": "24.5"})  # UpdateStackSet replaces the tag list
    assert cli(capsys, "apply", "-c", str(applied), "--auto-approve").code == 0
    assert tag_of(world) == lineage
    assert cli(capsys, "plan", "-c", str(applied), "--detailed-exitcode").code == 0


def test_a_state_of_another_lineage_is_refused_by_plan_apply_drift_and_state_show(
        world: Any, applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours = tag_of(world)
    other = State.new()
    state_file(applied).unlink()
    LocalBackend(state_file(applied)).write(other.with_last_apply(plan_id="0" * 16, outcome="succeeded"))
    before = len(operations(world))

    for argv in (["plan"], ["apply", "--auto-approve"], ["drift"], ["state", "show"]):
        run = cli(capsys, *argv, "-c", str(applied))
        assert run.code == 1, (argv, run.text)
        assert f"has lineage {other.lineage}, but StackSet {STACK_SET} carries lineage {ours}" in run.err, argv
        assert "state pull" in run.err and "--force" in run.err and "internal error" not in run.err
    assert len(operations(world)) == before
    assert json.loads(state_file(applied).read_text())["lineage"] == other.lineage  # nothing rewritten

    relinked = cli(capsys, "apply", "-c", str(applied), "--auto-approve", "--force")
    assert relinked.code == 0, relinked.text
    assert f"re-linking the state at {state_file(applied)} from lineage {other.lineage}" in relinked.out
    assert json.loads(state_file(applied).read_text())["lineage"] == ours
    assert cli(capsys, "drift", "-c", str(applied)).code in (0, 2)  # accepted again (what it finds is drift's)


def test_no_state_over_a_managed_stack_set_is_refused_until_adopted(
        world: Any, applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours = tag_of(world)
    state_file(applied).unlink()

    plan = cli(capsys, "plan", "-c", str(applied))
    assert plan.code == 1, plan.text
    assert f"StackSet {STACK_SET} is managed by the clumio-org state of lineage {ours}, but there is no state" \
        in plan.err and "--adopt" in plan.err
    assert cli(capsys, "apply", "-c", str(applied), "--auto-approve").code == 1
    assert not state_file(applied).exists()

    adopted = cli(capsys, "apply", "-c", str(applied), "--auto-approve", "--adopt")
    assert adopted.code == 0, adopted.text
    assert f"adopting StackSet {STACK_SET} (state lineage {ours})" in adopted.out
    assert json.loads(state_file(applied).read_text())["lineage"] == ours
    assert cli(capsys, "plan", "-c", str(applied)).code == 0
