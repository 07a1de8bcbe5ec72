"""The command-line habits of Terraform and the AWS CLI: global options anywhere, -c / $CLUMIO_ORG_CONFIG for every
config-reading command, readable help, usage mistakes as `error:` / `hint:`, `show PLANFILE` with no AWS call, and a
typed confirmation for large or destructive applies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import reconciler.providers.factory as factory
from reconciler.cli import common
from reconciler.cli.app import hoist_global_options, main
from reconciler.cli.apply import TerminalUI, needs_typed_confirmation
from reconciler.plan.build import make_plan
from tests.fakes import FakePorts, OrgBuilder, fake_ports, make_desired, make_live, make_template
from tests.unit.plan.test_plan_cli import CONFIG


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> FakePorts:
    made = fake_ports()
    monkeypatch.setattr(factory, "build_ports", lambda desired, **_: made)
    return made


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "clumio-org.yaml"
    path.write_text(CONFIG)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_global_options_after_the_command_are_moved_before_it() -> None:
    assert hoist_global_options(["plan", "-c", "x.yaml", "--debug", "--profile", "prod", "--region=eu-west-1"]) == [
        "--debug", "--profile", "prod", "--region=eu-west-1", "plan", "-c", "x.yaml"]
    assert hoist_global_options(["sandbox", "event", "--", "--debug"]) == ["sandbox", "event", "--", "--debug"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_and_quiet_work_before_or_after_the_command(
        where: str, ports: FakePorts, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "p.json"
    args = ["plan", "-c", str(config), "--out", str(out_file)]
    code, _, err = run(capsys, *(["--quiet", *args] if where == "before" else [*args, "--quiet"]))
    assert code == 0 and out_file.is_file()
    assert "Saved the plan" not in err  # --quiet drops the note
    code, _, err = run(capsys, *args, "--no-color")
    assert code == 0 and "Saved the plan" in err


def test_usage_mistakes_read_like_every_other_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, says in ((["plan", "--bogus"], "no such option: --bogus"),
                       (["plan", "--format", "yaml"], "'yaml' is not one of 'text', 'markdown', 'json'"),
                       (["state", "unlock"], "missing argument 'LOCK_ID'")):
        code, out, err = run(capsys, *argv)
        lines = err.strip().splitlines()
        assert code == 1, argv
        assert lines[0].startswith("error: ") and says in lines[0], err
        assert lines[1].startswith("hint: see `clumio-org ") and "Usage:" not in err and "Try '" not in err


def test_validate_reads_the_config_the_other_commands_read(
        config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate", "-c", str(config))[1] == f"{config}: ok\n"
    monkeypatch.setenv(common.CONFIG_ENV, str(config))
    assert run(capsys, "validate")[1] == f"{config}: ok\n"
    monkeypatch.setenv(common.CONFIG_ENV, str(config.parent / "missing.yaml"))
    code, _, err = run(capsys, "validate")
    assert code == 1 and "missing.yaml not found ($CLUMIO_ORG_CONFIG)" in err


def test_help_shows_readable_metavars(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["plan", "--help"], ["apply", "--help"], ["show", "--help"], ["state", "unlock", "-h"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        assert "<bool>" not in out and "<path>" not in out and "<str>" not in out, argv
    assert "-f, --format text|markdown|json" in run(capsys, "show", "--help")[1]
    out = run(capsys, "--help")[1]
    assert "--profile" in out and "--region" in out and "--show-completion" in out


def test_shell_completion_completes_command_names(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_CLUMIO_ORG_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "clumio-org pl")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        main([])
    assert capsys.readouterr().out.split() == ["plan"]


def test_profile_is_aws_profile_for_the_run_only(ports: FakePorts, config: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    seen: list[str | None] = []
    monkeypatch.setattr(factory, "build_ports", lambda desired, **_: seen.append(os.environ.get("AWS_PROFILE"))
                        or ports)
    assert run(capsys, "plan", "-c", str(config), "--profile", "audit")[0] == 0
    assert seen == ["audit"] and "AWS_PROFILE" not in os.environ


def test_region_replaces_the_home_region(ports: FakePorts, config: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []
    monkeypatch.setattr(factory, "build_ports", lambda desired, **_: seen.append(desired.organization.home_region)
                        or ports)
    run(capsys, "--region", "eu-west-1", "plan", "-c", str(config))
    assert seen == ["eu-west-1"]


def test_show_renders_a_saved_plan_in_every_format_without_aws(
        ports: FakePorts, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    planfile = tmp_path / "plan.json"
    _, text, _ = run(capsys, "plan", "-c", str(config), "--out", str(planfile))
    _, markdown, _ = run(capsys, "plan", "-c", str(config), "--format", "markdown", "--out", str(planfile))

    def no_aws(*_: object, **__: object) -> None:
        raise AssertionError("show must not build ports")

    monkeypatch.setattr(factory, "build_ports", no_aws)
    assert run(capsys, "show", str(planfile)) == (0, text, "")
    assert run(capsys, "show", str(planfile), "--format", "markdown") == (0, markdown, "")
    shown = json.loads(run(capsys, "show", str(planfile), "-f", "json")[1])
    assert shown.pop("overview")["summary"] == shown["summary"]
    assert shown == json.loads(planfile.read_text())
    code, _, err = run(capsys, "show", str(tmp_path / "nope.json"))
    assert code == 1 and err.startswith("error: cannot read plan file")


def _plan(accounts: int):  # type: ignore[no-untyped-def]
    b = OrgBuilder()
    for i in range(accounts):
        b.account(f"7{i:011d}", "/Big")
    return make_plan(make_desired(ous=["/Big"]), make_live(b.build()), template=make_template())


def test_a_large_apply_asks_for_the_organization_id(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert needs_typed_confirmation(_plan(3)) is None
    assert needs_typed_confirmation(_plan(30)) == "it touches 30 accounts (more than 25)"
    ui = TerminalUI(org_id="o-fake000001", heartbeat_seconds=60.0, now=lambda: 0.0)
    answers = iter(["y", "o-fake000001"])
    monkeypatch.setattr("typer.prompt", lambda *a, **k: next(answers))
    assert ui.confirm_plan(_plan(30), "Apply?") is False  # `y` is not the organization id
    assert ui.confirm_plan(_plan(30), "Apply?") is True
    assert "needs a typed confirmation: it touches 30 accounts" in capsys.readouterr().out


def test_show_prints_numbered_parts_of_the_comment(ports: FakePorts, config: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    planfile = tmp_path / "plan.json"
    run(capsys, "plan", "-c", str(config), "--out", str(planfile))
    assert run(capsys, "show", str(planfile), "-f", "markdown", "--parts") == (0, "1\n", "")
    assert run(capsys, "show", str(planfile), "-f", "markdown", "--part", "1")[1] == \
        run(capsys, "show", str(planfile), "-f", "markdown")[1]
    code, _, err = run(capsys, "show", str(planfile), "-f", "markdown", "--part", "2")
    assert code == 1 and "error: the comment has 1 part(s), not 2" in err
    code, _, err = run(capsys, "show", str(planfile), "--part", "1")
    assert code == 1 and "hint: add --format markdown" in err


def test_a_removal_always_asks_for_the_organization_id() -> None:
    from tests.unit.render.test_render_plan import mixed_plan

    assert needs_typed_confirmation(mixed_plan()) == "it removes 1 stack instance(s)"
