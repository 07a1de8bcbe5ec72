"""``clumio-org demo``: the whole job — validate, plan, apply, drift — on the embedded sandbox, in one command."""

from __future__ import annotations

import os
import shutil
import time
from importlib.resources import files
from pathlib import Path

import typer

DEMO_EXPECTED = (
    # (title, arguments after the config, the exit codes that mean the step showed what it should)
    ("Validate the desired-state file", ["validate"], (0,)),
    ("Plan: what would change, per account and region", ["plan", "--detailed-exitcode"], (2,)),
    ("Apply: roll out in waves, verify every account in Clumio", ["apply", "--auto-approve"], (0,)),
    ("Plan again: nothing left to do", ["plan", "--detailed-exitcode"], (0,)),
    ("Drift: the org matches the desired state", ["drift"], (0,)),
)
WORLD_EVENTS = (
    ("release-template", {"version": "24.5"}, "Clumio publishes template 24.5"),
    ("suspend-account", {"account": "320000000003"}, "the customer-portal-dev account is suspended"),
)


def _run(argv: list[str]) -> int:
    from reconciler.cli.app import main

    typer.secho("\n$ clumio-org " + " ".join(argv), bold=True)
    return main(argv)


def _prepare(workdir: Path) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    config = workdir / "clumio-org.yaml"
    config.write_text((files("reconciler.examples") / "demo.yaml").read_text())
    return config


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        workdir: Path = typer.Option(Path(".clumio-org/demo"), help="Folder for the demo's config and state."),
        time_scale: float = typer.Option(300.0, help="Simulated seconds per real second."),
    ) -> None:
        """Run plan → apply → drift on the embedded sandbox (a ~30-account demo organization)."""
        from reconciler.sandbox.runtime import load_world
        from reconciler.sandbox.server import start_in_thread

        started = time.monotonic()
        config = _prepare(workdir)
        sandbox = start_in_thread(load_world(None, time_scale))
        saved = dict(os.environ)
        os.environ.update(sandbox.env())
        os.environ.setdefault("CLUMIO_ORG_POLL_SECONDS", "0.25")
        os.environ.setdefault("CI", "true")  # plain progress lines: the demo is a log to read
        failures: list[str] = []
        try:
            typer.secho(f"sandbox serving on {sandbox.aws_url} (time x{time_scale:g}); config {config}", fg="cyan")
            for title, args, expected in DEMO_EXPECTED:
                typer.secho(f"\n== {title}", fg="cyan", bold=True)
                argv = args[:1] + (["-c", str(config)] if args[0] != "validate" else [str(config)]) + args[1:]
                code = _run(argv)
                if code not in expected:
                    failures.append(f"{' '.join(args)} exited {code}, expected {expected}")
                    if args[0] == "apply":
                        break
            if not failures:
                typer.secho("\n== The world moves on", fg="cyan", bold=True)
                for name, args, story in WORLD_EVENTS:
                    sandbox.world.apply_event(name, args)
                    typer.echo(f"  {story} ({name} {args})")
                typer.secho("\n== Drift: the nightly report finds it", fg="cyan", bold=True)
                code = _run(["drift", "-c", str(config)])
                if code != 2:
                    failures.append(f"drift after world events exited {code}, expected 2")
        finally:
            os.environ.clear()
            os.environ.update(saved)
            sandbox.stop()
        elapsed = time.monotonic() - started
        if failures:
            for failure in failures:
                typer.secho(f"demo: {failure}", fg="red", err=True)
            raise typer.Exit(1)
        typer.secho(f"\ndemo finished in {elapsed:.0f}s: plan → apply → drift all behaved as expected.", fg="green")
