"""Shared fixtures: a running sandbox (AWS + Clumio on one loopback port) built from a world file or spec.

``sandbox_factory(world="demo", clock=None)`` starts a sandbox serving ``world`` — "demo" (the packaged demo world),
a spec dict, a path to a world YAML file, or an already built world object — on a free port, with a VirtualClock
unless a clock is given; every sandbox started is stopped at teardown. ``sandbox`` is the demo world.
``sandbox_env`` points boto3 and the Clumio client at ``sandbox`` through the environment, as a user's shell would.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import RunningSandbox, start_in_thread

SandboxFactory = Callable[..., RunningSandbox]
_demo_spec: dict[str, Any] | None = None


def build_world(world: Any = "demo", clock: Any = None) -> Any:
    """A World from "demo", a spec dict, a world file path, or a world object passed through unchanged."""
    if not isinstance(world, dict | str | Path):
        return world
    # Imported here so this file loads even while the world package is being built.
    from reconciler.sandbox import clock as sandbox_clock
    from reconciler.sandbox import world as sandbox_world
    from reconciler.sandbox import worldfile

    clock = clock if clock is not None else sandbox_clock.VirtualClock()
    if isinstance(world, dict):
        return sandbox_world.World.from_spec(world, clock)
    if world == "demo":
        # The demo file is parsed and validated once per session (~0.15 s); each world gets its own copy.
        global _demo_spec
        if _demo_spec is None:
            _demo_spec = worldfile.load_world_spec(worldfile.default_world_path())
        return sandbox_world.World(copy.deepcopy(_demo_spec), clock)
    return sandbox_world.World.from_file(Path(world), clock)


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    running: list[RunningSandbox] = []

    def make(world: Any = "demo", clock: Any = None) -> RunningSandbox:
        sandbox = start_in_thread(build_world(world, clock))
        running.append(sandbox)
        return sandbox

    yield make
    for sandbox in running:
        sandbox.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> RunningSandbox:
    return sandbox_factory()


@pytest.fixture
def sandbox_env(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> RunningSandbox:
    """``sandbox`` with os.environ pointing at it; the user's AWS profile and config files are hidden."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox
