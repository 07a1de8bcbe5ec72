"""`clumio-org plan` wired to in-memory fakes: formats, --out, and --detailed-exitcode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reconciler.providers.factory as factory
from reconciler.cli.app import main
from reconciler.files.planfile import read_plan
from tests.fakes import FakePorts, fake_ports

CONFIG = """version: 1
organization:
  id: o-fake000001
  management_account: "111111111111"
  home_region: us-east-1
clumio:
  api_url: https://us-west-2.api.clumio.com
targets:
  ous: [/Security]
regions: [us-east-1, us-west-2]
"""


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> FakePorts:
    made = fake_ports()
    monkeypatch.setattr(factory, "build_ports", lambda desired, **_: made)
    return made


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plan_prints_rows_and_exits_2_with_detailed_exitcode(
        ports: FakePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "clumio-org.yaml"
    config.write_text(CONFIG)
    code, out, _ = run(capsys, "plan", "-c", str(config), "--detailed-exitcode")
    assert code == 2
    assert "+ 222200000001  us-east-1" in out
    assert out.rstrip("\n").splitlines()[-1] == "Plan: 5 to add, 0 to change, 0 to remove."
    code, _, _ = run(capsys, "plan", "-c", str(config))
    assert code == 0  # without the flag, changes are not an error


def test_plan_json_and_out_file_agree(ports: FakePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "clumio-org.yaml"
    config.write_text(CONFIG)
    out_file = tmp_path / "plans" / "p.json"
    code, out, err = run(capsys, "plan", "-c", str(config), "--format", "json", "--out", str(out_file))
    assert code == 0
    data = json.loads(out)
    assert data["summary"] == {"add": 5, "change": 0, "remove": 0, "skipped": 0}
    assert read_plan(out_file).plan_id == data["plan_id"]
    assert "clumio-org apply" in err


def test_unknown_ou_is_an_error_line_and_exit_1(ports: FakePorts, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "clumio-org.yaml"
    config.write_text(CONFIG.replace("/Security", "/Nowhere"))
    code, out, err = run(capsys, "plan", "-c", str(config))
    assert code == 1 and "error:" in err and "/Nowhere" in err and "Traceback" not in out + err


@pytest.mark.parametrize("where", ["a-directory", "a-file/plan.json"])
def test_plan_out_that_cannot_be_written_is_refused_before_any_read(
        ports: FakePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    config = tmp_path / "clumio-org.yaml"
    config.write_text(CONFIG)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("x")
    code, out, err = run(capsys, "plan", "-c", str(config), "--out", str(tmp_path / where))
    assert code == 1 and out == ""
    assert err.startswith(f"error: --out {tmp_path / where}") and "internal error" not in err
    assert ports.org.calls == []  # refused before the organization was read


def test_an_unknown_excluded_ou_is_named_by_its_real_key_and_line(
        ports: FakePorts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "clumio-org.yaml"
    config.write_text(CONFIG.replace("  ous: [/Security]\n", "  ous: [/Security]\n  exclude:\n    ous: [/Nowhere]\n"))
    code, _, err = run(capsys, "plan", "-c", str(config))
    assert code == 1 and "exclude_ous" not in err
    assert f"{config}:11:11: targets.exclude.ous[0]: " in err and "/Nowhere" in err, err
