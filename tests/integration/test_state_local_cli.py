"""`clumio-org state …` on the default local backend: a format-0 file, pull/push round trip, a stuck lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.app import main
from reconciler.state import LocalBackend, LockInfo, state_from_text

CONFIG = """\
version: 1
organization:
  id: o-demo7k2p9xq4
  management_account: "100000000001"
  home_region: us-east-1
clumio:
  api_url: https://clumio.invalid
targets:
  organization: true
regions: [us-east-1]
"""

V0 = {"version": 0, "serial": 7, "instances": [
    {"stack_set": "clumio-org", "account": "300000000001", "region": "us-east-1", "status": "CURRENT"}]}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "team" / "clumio-org.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    return path


def state_path(config: Path) -> Path:
    return config.parent / ".clumio-org" / "state.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_show_finds_the_state_next_to_the_config_from_any_folder(
        config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    state_path(config).parent.mkdir()
    state_path(config).write_text(json.dumps(V0))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "state", "show", "-c", str(config))
    assert code == 0
    assert str(state_path(config)) in out
    assert "Serial:     7 (format 0; the next write upgrades it to format 1)" in out
    assert "Instances:  1 (CURRENT 1)" in out
    assert json.loads(state_path(config).read_text()) == V0  # show never rewrites


def test_pull_prints_format_1_and_push_of_the_edited_copy_upgrades_the_file(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_path(config).parent.mkdir()
    state_path(config).write_text(json.dumps(V0))
    code, out, _ = run(capsys, "state", "pull", "-c", str(config))
    assert code == 0
    pulled = json.loads(out)
    assert pulled["format_version"] == 1 and pulled["serial"] == 7

    pulled["serial"] = 8
    pulled["instances"][0]["status"] = "OUTDATED"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(pulled))
    code, out, _ = run(capsys, "state", "push", str(edited), "-c", str(config))
    assert code == 0 and "serial 9" in out
    stored = state_from_text(state_path(config).read_text())
    assert stored.format_version == 1 and stored.serial == 9 and stored.lineage == pulled["lineage"]
    assert [r.status for r in stored.instances.values()] == ["OUTDATED"]


def test_a_stuck_local_lock_is_shown_and_released_by_its_id(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = LocalBackend(state_path(config))
    info = LockInfo.create("clumio-org apply")
    backend._acquire(info)  # taken by a run that never got to release it
    code, out, _ = run(capsys, "state", "show", "-c", str(config))
    assert code == 0 and f"Lock:       held by {info.who}" in out and info.id in out

    code, _, err = run(capsys, "state", "unlock", "wrong", "-c", str(config))
    assert code == 1 and f"the lock id to release is {info.id}" in err
    code, out, _ = run(capsys, "state", "unlock", info.id, "-c", str(config))
    assert code == 0 and "released lock" in out
    assert backend.current_lock() is None


def test_state_commands_without_a_config_explain_how_to_give_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUMIO_ORG_CONFIG", raising=False)
    code, _, err = run(capsys, "state", "show")
    assert code == 1 and "error:" in err and "--config" in err


def test_a_corrupt_state_file_is_an_error_with_a_recovery_hint(config: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    state_path(config).parent.mkdir()
    state_path(config).write_text('{"format_version": 1, "lineage": "x", "serial": ')
    code, _, err = run(capsys, "state", "list", "-c", str(config))
    assert code == 1 and "not valid JSON" in err and "hint:" in err


def test_list_can_be_narrowed_to_a_status_or_an_account(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"stack_set": "clumio-org", "account": account, "region": region, "status": status}
            for account, region, status in (("300000000001", "us-east-1", "CURRENT"),
                                            ("300000000002", "us-east-1", "OUTDATED"),
                                            ("300000000002", "eu-west-1", "CURRENT"))]
    state_path(config).parent.mkdir()
    state_path(config).write_text(json.dumps({"version": 0, "serial": 1, "instances": rows}))
    code, out, _ = run(capsys, "state", "list", "-c", str(config), "--status", "OUTDATED", "-f", "json")
    assert code == 0 and [(r["account"], r["region"]) for r in json.loads(out)] == [("300000000002", "us-east-1")]
    code, out, _ = run(capsys, "state", "list", "-c", str(config), "--account", "300000000002")
    assert code == 0 and len(out.splitlines()) == 3  # header + two rows


def test_a_corrupt_state_is_replaced_only_by_a_forced_push(config: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    state_path(config).parent.mkdir()
    state_path(config).write_text('{"format_version": 1, "lin')
    good = tmp_path / "backup.json"
    good.write_text(json.dumps({**V0, "lineage": "team-lineage"}))
    code, _, err = run(capsys, "state", "push", str(good), "-c", str(config))
    assert code == 1 and "not valid JSON" in err
    code, out, _ = run(capsys, "state", "push", str(good), "-c", str(config), "--force")
    assert code == 0
    stored = state_from_text(state_path(config).read_text())
    assert stored.lineage == "team-lineage" and stored.serial == 8
