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
    assert plan["coverage"]["counts"] == {"new": 10, "managed": 0, "other-stackset": 0, "outside-stackset": 4,
                                          "move": 0}
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


def _move(config: Path) -> None:
    text = config.read_text()
    assert "existing_connections: leave" in text  # init wrote the choice, on the safe side
    config.write_text(text.replace("existing_connections: leave", "existing_connections: move"))


def test_portal_connections_move_onto_the_stack_set_without_a_gap(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = start(sandbox_factory, monkeypatch, "portal", tmp_path)
    init_and_validate(capsys)
    portal = {k: c["stack_arn"] for k, c in connections(sandbox).items() if k[0] in SECURITY}
    since = {k: sandbox.world.clumio.connections[f"{k[0]}_{k[1]}"].connected_at for k in portal}
    _move(Path("clumio-org.yaml"))

    plan = plan_json(capsys)
    import jsonschema

    jsonschema.validate(plan, json.loads((WORLDS.parents[1] / "schemas" / "plan.schema.json").read_text()))
    moving = {(r["account"], r["region"]): r for r in plan["coverage"]["existing"]}
    assert set(moving) == set(portal) and {r["class"] for r in moving.values()} == {"move"}
    assert plan["coverage"]["counts"]["move"] == 4 and plan["coverage"]["counts"]["outside-stackset"] == 0
    row = moving[("710000000001", "us-east-1")]
    assert row["connection"] == "710000000001_us-east-1" and row["stack_arn"] == portal[("710000000001", "us-east-1")]
    # Three steps, in the order that keeps backups running: deploy beside, prove the takeover, then delete.
    assert [s[:2] for s in row["steps"]] == ["1.", "2.", "3."]
    assert "next to stack ClumioService" in row["steps"][0] and "retired stack" in row["steps"][1]
    assert "aws cloudformation delete-stack --stack-name ClumioService --region us-east-1" in row["steps"][2]
    assert {(c["account"], c["region"]) for c in plan["changes"] if c["action"] == "add"} >= set(portal)
    text = cli(capsys, "plan")
    assert "Connections moved onto the StackSet (4" in text.out and "4 moving onto the StackSet" in text.out

    run = cli(capsys, "apply", "--auto-approve")
    assert run.code == 0, run.text
    assert "Moved onto the StackSet: 4 of 4 connection(s)" in run.out
    assert "710000000002/us-west-2: delete the retired stack" in run.out
    deployed = {(r["Account"], r["Region"]) for r in instances(sandbox)}
    assert set(portal) <= deployed
    after = connections(sandbox)
    for pair, old in portal.items():
        conn = after[pair]
        assert conn["connection_status"] == "connected" and conn["retired_stack_arn"] == old
        assert conn["stack_name"].startswith("StackSet-clumio-org-")
    # Never unlinked nor reconnected: the same connection, connected since before the move.
    assert {k: sandbox.world.clumio.connections[f"{k[0]}_{k[1]}"].connected_at for k in portal} == since

    again = cli(capsys, "plan", "--detailed-exitcode")
    assert again.code == 0, again.text
    assert "Clumio connection 710000000001_us-east-1 now runs through the StackSet and lists stack ClumioService " \
           "as retired: delete it" in again.out
    drift = cli(capsys, "drift")
    assert drift.code == 0, drift.text
    assert "lists stack ClumioService as retired" in drift.out

    # The owner deletes the retired stacks as told: the connections stay connected and the notes go.
    for account, region in portal:
        sandbox.world.apply_event("delete-stack", {"account": account, "region": region,
                                                   "stack_name": "ClumioService"})
    assert {connections(sandbox)[k]["connection_status"] for k in portal} == {"connected"}
    final = cli(capsys, "plan", "--detailed-exitcode")
    assert final.code == 0 and "retired" not in final.out, final.text
    assert cli(capsys, "drift").code == 0


def test_terraform_connections_move_onto_the_stack_set(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = start(sandbox_factory, monkeypatch, "terraform", tmp_path)
    init_and_validate(capsys)
    _move(Path("clumio-org.yaml"))
    plan = plan_json(capsys)
    moving = {(r["account"], r["region"]): r for r in plan["coverage"]["existing"]}
    assert set(moving) == {(a, "us-east-1") for a in PROD} and {r["stack_arn"] for r in moving.values()} == {None}
    steps = moving[(PROD[0], "us-east-1")]["steps"]
    assert "next to the roles Terraform's module made" in steps[0]
    assert "terraform state rm" in steps[2] and "never `terraform destroy` it" in steps[2]
    assert not [s for s in plan["skipped"] if "already has Clumio" in s["reason"]]
    saved = cli(capsys, "plan", "--out", "moves.plan")
    assert saved.code == 0, saved.text
    run = cli(capsys, "apply", "moves.plan")  # the reviewed plan file carries the moves the gate holds
    assert run.code == 0, run.text
    assert "Moved onto the StackSet: 3 of 3 connection(s)" in run.out and "terraform state rm" in run.out
    assert cli(capsys, "plan", "--detailed-exitcode").code == 0 and cli(capsys, "drift").code == 0
    after = connections(sandbox)
    assert {after[(a, "us-east-1")]["stack_name"].split("-")[0] for a in PROD} == {"StackSet"}
    assert {after[(a, "us-east-1")]["connection_status"] for a in PROD} == {"connected"}


def test_deleting_a_portal_stack_before_the_move_unlinks_its_connection(
        sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Why the order matters (brownfield.md §6): delete first and backups stop until a new stack connects."""
    sandbox = start(sandbox_factory, monkeypatch, "portal", tmp_path)
    event = sandbox.world.apply_event("delete-stack", {"account": SECURITY[0], "region": "us-east-1",
                                                       "stack_name": "ClumioService"})
    assert event["status"] == "unlinked"
    assert connections(sandbox)[(SECURITY[0], "us-east-1")]["connection_status"] == "unlinked"
