"""A plan file is a contract: `apply PLANFILE` refuses an edited file (targets, regions, preferences, template, id),
one a Clumio release has overtaken, a spent one and a binary one — exit 1, no StackSet operation, one clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan.planfile import contract_id, operation_id
from tests.integration.apply_support import Run, cli, demo_config, operations, use_virtual_clock

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def world(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_virtual_clock(sandbox_env, monkeypatch)
    return sandbox_env


def _plan(capsys: pytest.CaptureFixture[str], config: Path, out: Path) -> dict[str, Any]:
    run = cli(capsys, "plan", "-c", str(config), "--out", str(out))
    assert run.code == 0, run.text
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _reseal(data: dict[str, Any]) -> None:
    """What a forger who read this code would do after an edit: recompute the plan id and the operation ids."""
    data["plan_id"] = contract_id(data)
    for op in data["operations"]:
        op["operation_id"] = operation_id(data["plan_id"], op["index"])


def _canary(data: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = next(o for o in data["operations"] if o["kind"] == "CreateStackInstances")
    return op


def _excluded_account(data: dict[str, Any]) -> str:
    account: str = next(s["account"] for s in data["skipped"] if "exclude" in s["reason"])
    return account


def _edit_targets(data: dict[str, Any]) -> None:
    op = _canary(data)
    op["targets"]["accounts"] = [*op["targets"]["accounts"], _excluded_account(data)]


def _edit_regions(data: dict[str, Any]) -> None:
    _canary(data)["regions"].append("ap-southeast-2")


def _edit_preferences(data: dict[str, Any]) -> None:
    _canary(data)["preferences"]["failure_tolerance_count"] = 99


def _edit_template(data: dict[str, Any]) -> None:
    data["stack_set_changes"][0]["definition"]["template_sha256"] = "0" * 64


EDITS: dict[str, tuple[Edit, str]] = {
    "targets": (_edit_targets, "targets.accounts"),
    "regions": (_edit_regions, ": regions is"),
    "preferences": (_edit_preferences, "preferences.failure_tolerance_count is 99 in the plan file"),
    "template": (_edit_template, "definition.template_sha256"),
}


def _refused_without_operation(world: Any, run: Run) -> None:
    assert run.code == 1, run.text
    assert "error: " in run.err and "hint: " in run.err and "internal error" not in run.text
    assert world.world.status()["stack_sets"] == []  # not even CreateStackSet ran


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edited_plan_file_is_refused_with_no_operation(world: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], name: str) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    data = _plan(capsys, config, planfile)
    edit, _ = EDITS[name]
    edit(data)
    planfile.write_text(json.dumps(data))

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    _refused_without_operation(world, run)
    assert "was edited after `clumio-org plan` wrote it" in run.err


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edited_and_resealed_plan_file_is_refused_naming_the_difference(
        world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    data = _plan(capsys, config, planfile)
    edit, named = EDITS[name]
    edit(data)
    _reseal(data)
    planfile.write_text(json.dumps(data))

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    _refused_without_operation(world, run)
    assert "it is not what the config and the live state give now" in run.err
    assert named in run.err, run.err


def test_an_edited_plan_id_is_refused(world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    data = _plan(capsys, config, planfile)
    data["plan_id"] = "0123456789abcdef"
    planfile.write_text(json.dumps(data))

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    _refused_without_operation(world, run)
    assert "does not match its plan id 0123456789abcdef" in run.err


def test_a_template_clumio_released_after_the_plan_is_refused(world: Any, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    text = config.read_text()
    config.write_text(text.replace("  - eu-west-1\n", ""))
    assert cli(capsys, "apply", "-c", str(config), "--auto-approve").code == 0
    config.write_text(text)  # eu-west-1 joins: the plan creates instances there, and updates nothing
    plan = _plan(capsys, config, planfile)
    assert {op["kind"] for op in plan["operations"]} == {"CreateStackInstances"}
    world.world.apply_event("release-template", {"version": "24.5"})
    before = len(operations(world))

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert run.code == 1, run.text
    assert "StackSet clumio-org now needs a change the plan file does not have (template" in run.err
    assert len(operations(world)) == before


def test_a_spent_plan_file_says_it_was_already_applied(world: Any, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    _plan(capsys, config, planfile)
    assert cli(capsys, "apply", str(planfile), "-c", str(config)).code == 0
    assert sorted(p.name for p in (tmp_path / ".clumio-org").iterdir()) == ["state.json"]  # no lock, no guard
    serial = json.loads((tmp_path / ".clumio-org" / "state.json").read_text())["serial"]
    before = len(operations(world))

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    assert run.code == 1, run.text
    assert f"this plan was already applied (serial {serial})" in run.err
    assert len(operations(world)) == before


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", b"[" * 100_000, b"[1, 2]", b""])
def test_a_binary_or_garbage_plan_file_is_a_clear_error(world: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    config, planfile = demo_config(tmp_path), tmp_path / "plan.bin"
    planfile.write_bytes(content)

    run = cli(capsys, "apply", str(planfile), "-c", str(config))

    _refused_without_operation(world, run)
    assert f"plan file {planfile}" in run.err


def test_apply_planfile_finds_the_config_the_plan_was_made_from(world: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Like `terraform apply PLANFILE`: no -c needed when the plan's own config is still where it was."""
    config, planfile = demo_config(tmp_path), tmp_path / "plan.json"
    _plan(capsys, config, planfile)
    elsewhere = tmp_path / "ci-job"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no ./clumio-org.yaml here
    monkeypatch.delenv("CLUMIO_ORG_CONFIG", raising=False)
    run = cli(capsys, "apply", str(planfile))
    assert run.code == 0, run.text
    assert f"applying plan {json.loads(planfile.read_text())['plan_id']} from {planfile}" in run.out
    assert len(operations(world)) > 0
    config.unlink()  # gone: the usual error, naming what to pass
    again = cli(capsys, "apply", str(planfile))
    assert again.code == 1 and "desired-state file clumio-org.yaml not found (default)" in again.err
