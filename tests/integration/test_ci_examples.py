"""The GitHub Actions recipes in examples/ci/ really work: every `clumio-org …` command their `run:` steps contain is
run, in workflow order, against the sandbox with examples/demo.yaml, and exits with the code the workflow expects.

Shell details are handled the way the runner would: variables from the workflow/job/step `env:` (with `${{ … }}`
expressions resolved to sandbox values) are substituted, and redirections (`> plan.md`) are honoured.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.cli.app import main
from tests.integration.apply_support import use_virtual_clock

ROOT = Path(__file__).parents[2]
CI = ROOT / "examples" / "ci"
SHELL_STOP = {"|", "||", "&&", ";"}


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CI / name).read_text())
    return data


def triggers(data: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as True.
    found: dict[str, Any] = data.get("on", data.get(True))  # type: ignore[call-overload]
    return found


def _expression(expr: str, secrets: dict[str, str]) -> str:
    expr = expr.strip()
    if expr.startswith("secrets."):
        return secrets.get(expr.split(".", 1)[1], "")
    if expr.startswith("github.run_id"):
        return "12345"
    return ""


def _substitute(line: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), line)


def commands(data: dict[str, Any], secrets: dict[str, str]) -> list[tuple[list[str], dict[str, str], str | None]]:
    """(argv after `clumio-org`, env, stdout redirect file) for every clumio-org command, in job and step order."""
    found: list[tuple[list[str], dict[str, str], str | None]] = []
    for job in data["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            env = {**data.get("env", {}), **job.get("env", {}), **step.get("env", {})}
            env = {k: re.sub(r"\$\{\{(.*?)\}\}", lambda m: _expression(m.group(1), secrets), str(v))
                   for k, v in env.items()}
            script = step["run"].replace("\\\n", " ")
            for line in script.splitlines():
                line = line.strip()
                if not line.startswith("clumio-org "):
                    continue
                expanded = _substitute(line, env)
                tokens = shlex.split(expanded)[1:]
                argv: list[str] = []
                redirect: str | None = None
                it = iter(tokens)
                for token in it:
                    if token in SHELL_STOP:
                        break
                    if token == ">":
                        redirect = next(it)
                        continue
                    argv.append(token)
                found.append((argv, env, redirect))
    return found


WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")


def test_workflows_have_the_triggers_and_guards_they_promise() -> None:
    plan, apply, drift = workflow("plan.yml"), workflow("apply.yml"), workflow("drift.yml")
    assert "pull_request" in triggers(plan)
    assert "<!-- clumio-org plan -->" in json.dumps(plan)  # the sticky comment's marker, as the renderer writes it
    assert triggers(apply)["push"]["branches"] == ["main"]
    assert apply["jobs"]["apply"]["environment"] == "production"
    assert "schedule" in triggers(drift)
    assert "gh issue create" in json.dumps(drift) and "gh issue edit" in json.dumps(drift)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflows_are_hardened(name: str) -> None:
    data = workflow(name)
    assert data["permissions"] == {}  # nothing workflow-wide: each job asks for what it uses
    assert "group" in data["concurrency"]
    for job_name, job in data["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), job_name
        assert "permissions" in job, job_name
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses  # pinned by commit SHA
            if uses and uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            run = step.get("run", "")
            assert "pip install clumio-org" not in run  # not on PyPI: install from the repository or a wheel
            if "pip install" in run:
                assert "git+https://github.com/${REPOSITORY}@${COMMIT}" in run
    text = (CI / name).read_text()
    assert ".slice(" not in text and "truncat" not in text.lower()  # the recipe never cuts the renderer's body


@pytest.mark.slow
def test_every_workflow_command_runs_against_the_sandbox_with_the_expected_exit_code(
        sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    use_virtual_clock(sandbox, monkeypatch)
    shutil.copy(ROOT / "examples" / "demo.yaml", tmp_path / "clumio-org.yaml")
    monkeypatch.chdir(tmp_path)
    secrets = {"CLUMIO_API_TOKEN": sandbox.env()["CLUMIO_API_TOKEN"]}

    def run(name: str) -> list[tuple[str, int]]:
        codes: list[tuple[str, int]] = []
        for argv, env, redirect in commands(workflow(name), secrets):
            with monkeypatch.context() as m:
                for key, value in env.items():
                    if value:
                        m.setenv(key, value)
                capsys.readouterr()
                code = main(argv, clock=sandbox.world.clock)
                out = capsys.readouterr().out
            if redirect:
                Path(redirect).write_text(out)
            codes.append((argv[0], code))
        return codes

    # A pull request on a fresh org: valid config, changes pending, one comment body written.
    assert run("plan.yml") == [("validate", 0), ("plan", 2)]
    assert "<!-- clumio-org plan -->" in Path("plan.md").read_text()
    # Merged: plan again (changes) and apply exactly that plan.
    assert run("apply.yml") == [("plan", 2), ("apply", 0)]
    # Nightly: clean, then Clumio ships a template and the same job reports drift.
    assert run("drift.yml") == [("drift", 0)]
    sandbox.world.apply_event("release-template", {"version": "24.5"})
    assert run("drift.yml") == [("drift", 2)]
    report = json.loads(Path("drift.json").read_text())
    jsonschema.validate(report, json.loads((ROOT / "schemas" / "drift-report.schema.json").read_text()))
    assert report["summary"]["version"] == 1
    assert Path("drift.md").read_text().startswith("<!-- clumio-org:drift-report -->")
    # The next pull request sees the template update as a pending change.
    assert run("plan.yml") == [("validate", 0), ("plan", 2)]
