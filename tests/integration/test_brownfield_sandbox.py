"""Brownfield end to end on the sandbox, for each starting point (examples/sandbox/brownfield-*.yaml): init →
validate → plan (no second deployment, the right classes) → import → apply → plan and drift both exit 0."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_support import Run, cli, connections, instances, state_of, use_virtual_clock

WORLDS = Path(__file__).resolve().parents[2] / "examples" / "sandbox"
SECURITY = ("710000000001", "710000000002")
PROD = ("720000000001", "720000000002", "720000000003")
CONSOLE_TOKEN = "0c0501e0-7a1e-4d5e-9c0a-c0a501e70ce1"
CONSOLE_EXTERNAL_ID = "ExternalID_console0made0by0hand0000000001"


def start(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, name: str, tmp_path: Path) -> Any:
    sandbox = sandbox_factory(WORLDS / f"brownfield-{name}.yaml")
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for var, value in sandbox.env().items():
        monkeypatch.setenv(var, value)
    use_virtual_clock(sandbox, monkeypatch)
    monkeypatch.chdir(tmp_path)
    return sandbox


def plan_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    run = cli(capsys, "plan", "--format", "json")
    assert run.code == 0, run.text
    data: dict[str, Any] = json.loads(run.out)
    return data


def settle(capsys: pytest.CaptureFixture[str], *apply_flags: str) -> None:
    """apply, then the Must-show: plan --detailed-exitcode and drift both exit 0."""
    run = cli(capsys, "apply", "--auto-approve", *apply_flags)
    assert run.code == 0, run.text
    again = cli(capsys, "plan", "--detailed-exitcode")
    assert again.code == 0, again.text
    drift = cli(capsys, "drift")
    assert drift.code == 0, drift.text


def init_and_validate(capsys: pytest.CaptureFixture[str]) -> Run:
    run = cli(capsys, "init")
    assert run.code == 0, run.text
    assert cli(capsys, "validate", "clumio-org.yaml").code == 0
    return run


def test_console_stack_set_under_another_name_is_adopted_without_touching_its_secrets(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = start(sandbox_factory, monkeypatch, "console", tmp_path)
    stack_set = sandbox.world.stack_set("ClumioManual")
    before = dict(stack_set.parameters)
    assert (before["ClumioToken"], before["RoleExternalId"]) == (CONSOLE_TOKEN, CONSOLE_EXTERNAL_ID)
    run = init_and_validate(capsys)
    assert "clumio-org import --stack-set ClumioManual" in run.out
    text = Path("clumio-org.yaml").read_text()
    assert "name: ClumioManual" in text and 'template_version: "24.3"' in text and "ous: [\"/Canary\"]" in text

    plan = plan_json(capsys)
    assert [s["action"] for s in plan["stack_set_changes"]] == []  # never a second StackSet, no rewrite either
    assert plan["changes"] == [] and plan["operations"] == []  # init copied what runs: nothing to change

    imported = cli(capsys, "import", "--stack-set", "ClumioManual")
    assert imported.code == 0, imported.text
    assert "Imported StackSet ClumioManual (SERVICE_MANAGED, template 24.3, 16 stack instance(s)" in imported.out
    assert "Nothing was changed in AWS" in imported.out and "No changes." in imported.out
    record = state_of(Path("clumio-org.yaml"))["stack_sets"]["ClumioManual"]
    assert record["template_version"] == "24.3" and record.get("secret_fingerprints", {}) == {}
    assert len(sandbox.world.stack_set("ClumioManual").operations) == 0  # import made no AWS change

    settle(capsys)
    # Take Clumio's newest template: an UpdateStackSet that must keep the console's ClumioToken / RoleExternalId.
    Path("clumio-org.yaml").write_text(text.replace('template_version: "24.3"', "template_version: latest"))
    upgrade = plan_json(capsys)
    assert [p["name"] for s in upgrade["stack_set_changes"] for p in s["properties"]] == ["template"]
    settle(capsys)
    after = sandbox.world.stack_set("ClumioManual").parameters
    assert (after["ClumioToken"], after["RoleExternalId"]) == (CONSOLE_TOKEN, CONSOLE_EXTERNAL_ID)
    # Every active account runs the new template; the suspended one's instance is kept as it is (targets default).
    assert {r["Status"] for r in instances(sandbox, "ClumioManual") if r["Account"] != "730000000002"} == {"CURRENT"}


def test_import_of_a_stack_set_the_config_does_not_name_is_refused(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    start(sandbox_factory, monkeypatch, "console", tmp_path)
    init_and_validate(capsys)
    config = Path("clumio-org.yaml")
    config.write_text(config.read_text().replace("name: ClumioManual", "name: clumio-org")
                      .replace('template_version: "24.3"', "template_version: latest"))
    plan = plan_json(capsys)
    assert plan["stack_set_changes"][0]["action"] == "add" and plan["changes"] == []  # a StackSet with no instance
    assert plan["coverage"]["counts"]["other-stackset"] == 14
    run = cli(capsys, "import", "--stack-set", "ClumioManual")
    assert run.code == 1
    assert "error: import --stack-set ClumioManual: the config manages StackSet clumio-org" in run.err
    assert "set `stack_set.name: ClumioManual`" in run.err


def test_portal_connections_with_their_own_stacks_are_left_alone(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = start(sandbox_factory, monkeypatch, "portal", tmp_path)
    init_and_validate(capsys)
    assert "Clumio connection(s) made outside any StackSet (ClumioService)" in Path("clumio-org.yaml").read_text()
    plan = plan_json(capsys)
    covered = {(r["account"], r["region"]): r for r in plan["coverage"]["existing"]}
    assert set(covered) == {(a, r) for a in SECURITY for r in ("us-east-1", "us-west-2")}
    assert {r["class"] for r in covered.values()} == {"outside-stackset"} and {r["by"] for r in covered.values()} \
        == {"ClumioService"}
    assert not {(c["account"], c["region"]) for c in plan["changes"]} & set(covered)
    assert plan["coverage"]["counts"] == {"new": 10, "managed": 0, "other-stackset": 0, "outside-stackset": 4}
    portal_arns = {k: c["stack_arn"] for k, c in connections(sandbox).items()}
    settle(capsys)
    assert not {(r["Account"], r["Region"]) for r in instances(sandbox)} & set(covered)
    assert {k: c["stack_arn"] for k, c in connections(sandbox).items() if k in portal_arns} == portal_arns


def test_terraform_connections_without_a_stack_are_left_alone(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = start(sandbox_factory, monkeypatch, "terraform", tmp_path)
    init_and_validate(capsys)
    assert "regions:" in Path("clumio-org.yaml").read_text()
    plan = plan_json(capsys)
    covered = {(r["account"], r["region"]) for r in plan["coverage"]["existing"]}
    assert covered == {(a, "us-east-1") for a in PROD}
    assert {r["by"] for r in plan["coverage"]["existing"]} == {"no CloudFormation stack"}
    assert {s["account"] for s in plan["skipped"] if "already has Clumio" in s["reason"]} == set(PROD)
    settle(capsys)
    deployed = {(r["Account"], r["Region"]) for r in instances(sandbox)}
    assert deployed == {(a, "us-east-1") for a in ("710000000001", "710000000002", "730000000001", "740000000001")}


def test_init_refuses_to_overwrite_a_file(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    start(sandbox_factory, monkeypatch, "terraform", tmp_path)
    Path("clumio-org.yaml").write_text("# mine\n")
    run = cli(capsys, "init")
    assert run.code == 1 and "error: clumio-org.yaml already exists; init never overwrites a file" in run.err
    assert Path("clumio-org.yaml").read_text() == "# mine\n"
