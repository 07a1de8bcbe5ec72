"""`clumio-org state show|list|pull|push|unlock` end to end on the sandbox S3: exit codes, messages, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.app import main
from reconciler.core.keys import InstanceKey
from reconciler.core.secrets import Secret
from reconciler.state import InstanceRecord, JournalEntry, StackSetRecord, State, state_to_text
from reconciler.state.s3 import S3Backend
from tests.integration import state_support
from tests.integration.state_support import BUCKET, KEY, s3_backend_for_test, s3_config

# One sandbox per module (its S3 is all these tests need); each test starts from an empty bucket.
module_sandbox = state_support.module_sandbox
s3_env = state_support.s3_env

TOKEN = Secret("sandbox-clumio-token-value")


@pytest.fixture
def config(s3_env: Any, tmp_path: Path) -> Path:
    return s3_config(tmp_path)


def backend() -> S3Backend:
    return s3_backend_for_test()


def applied_state() -> State:
    state = State.new().with_stack_set("clumio-org", StackSetRecord(
        "24.4", "ab" * 32, {"SendCFTDeploymentEventsToClumio": "True"}, {"ClumioToken": TOKEN}))
    for account in ("300000000002", "300000000001"):
        state = state.with_instance(InstanceKey("clumio-org", account, "us-east-1"),
                                    InstanceRecord("CURRENT", "clumio-org-00000000000000aa-000", "24.4", True))
    state = state.with_instance(InstanceKey("clumio-org", "300000000003", "us-east-1"), InstanceRecord("OUTDATED"))
    state = state.with_journal_entry(JournalEntry("00000000000000aa", "clumio-org-00000000000000aa-001", 1,
                                                  "UpdateStackInstances", "clumio-org", "rest", "RUNNING"))
    return state.with_last_apply(plan_id="00000000000000aa", started_at="2026-01-31T10:00:00Z", outcome="interrupted")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_show_on_a_fresh_bucket_says_nothing_was_applied(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "state", "show", "-c", str(config))
    assert code == 0
    assert f"s3://{BUCKET}/{KEY}" in out and "nothing has been applied" in out and "Lock:       free" in out


def test_pull_and_list_without_state_fail_with_a_hint(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("pull", "list"):
        code, _, err = run(capsys, "state", command, "-c", str(config))
        assert code == 1
        assert "error: there is no state at" in err and "hint:" in err


def test_push_then_show_list_and_pull(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "restore.json"
    file.write_text(state_to_text(applied_state()))
    code, out, _ = run(capsys, "state", "push", str(file), "-c", str(config))
    assert code == 0 and "serial 1" in out

    code, out, _ = run(capsys, "state", "show", "-c", str(config))
    assert code == 0
    assert "Serial:     1" in out and applied_state().lineage not in out  # a fresh lineage per State.new()
    assert "Instances:  3 (CURRENT 2, OUTDATED 1)" in out
    assert "clumio-org: template 24.4" in out
    assert "plan 00000000000000aa, interrupted" in out
    assert "Unfinished: clumio-org-00000000000000aa-001" in out

    code, out, _ = run(capsys, "state", "list", "-c", str(config))
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["STACK", "SET", "ACCOUNT", "REGION"]
    assert [line.split()[1] for line in lines[1:]] == ["300000000001", "300000000002", "300000000003"]

    code, out, _ = run(capsys, "state", "list", "-c", str(config), "--format", "json")
    rows = json.loads(out)
    assert [(r["account"], r["status"], r["connected"]) for r in rows] == [
        ("300000000001", "CURRENT", True), ("300000000002", "CURRENT", True), ("300000000003", "OUTDATED", None)]

    code, out, _ = run(capsys, "state", "pull", "-c", str(config))
    pulled = json.loads(out)
    assert code == 0 and pulled["serial"] == 1 and pulled["format_version"] == 1
    assert TOKEN.reveal() not in out and pulled["stack_sets"]["clumio-org"]["secret_fingerprints"] == {
        "ClumioToken": TOKEN.fingerprint()}


def test_push_refuses_a_stale_serial_unless_forced(config: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stored = backend().write(applied_state())
    stored = backend().write(stored)  # serial 2
    stale = tmp_path / "stale.json"
    stale.write_text(state_to_text(State(lineage=stored.lineage, serial=1)))
    same = tmp_path / "same.json"
    same.write_text(state_to_text(State(lineage=stored.lineage, serial=2)))
    for file in (stale, same):
        code, _, err = run(capsys, "state", "push", str(file), "-c", str(config))
        assert code == 1
        assert "not newer than the stored serial 2" in err and "--force" in err
    assert backend().read() == stored

    code, out, _ = run(capsys, "state", "push", str(stale), "-c", str(config), "--force")
    assert code == 0
    after = backend().read()
    assert after is not None and after.serial == 3 and after.instances == {}


def test_push_refuses_another_lineage(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend().write(applied_state())
    other = tmp_path / "other.json"
    other.write_text(state_to_text(State(lineage="another-deployment", serial=50)))
    code, _, err = run(capsys, "state", "push", str(other), "-c", str(config))
    assert code == 1 and "lineage" in err and "another-deployment" in err


def test_push_of_a_bad_file_is_an_error_not_a_traceback(config: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "state", "push", str(bad), "-c", str(config))
    assert code == 1 and "not valid JSON" in err
    code, _, err = run(capsys, "state", "push", str(tmp_path / "missing.json"), "-c", str(config))
    assert code == 1 and "cannot read" in err


def test_a_held_lock_makes_push_exit_1_naming_the_holder(config: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "restore.json"
    file.write_text(state_to_text(applied_state()))
    with backend().lock("clumio-org apply --auto-approve") as held:
        code, _, err = run(capsys, "state", "push", str(file), "-c", str(config))
    assert code == 1
    assert "`clumio-org apply --auto-approve`" in err and held.who in err
    assert f"hint: wait for that run to finish; if it is dead, release the lock with: clumio-org state unlock " \
           f"{held.id}" in err
    assert backend().read() is None


def test_unlock_of_an_unlocked_state_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "state", "unlock", "some-id", "-c", str(config))
    assert code == 1 and "is not locked" in err


def test_a_missing_bucket_is_explained(s3_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "state", "show", "-c", str(s3_config(tmp_path, bucket="no-such-state-bucket")))
    assert code == 1 and "NoSuchBucket" in err and "create the bucket no-such-state-bucket" in err
