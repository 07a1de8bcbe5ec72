"""Generative: whatever the desired-state file holds, validate, plan and apply answer with an exit code and located,
one-line, escaped messages — never an internal error (the classes of input of issue 10, on the in-memory fakes)."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reconciler.providers.factory as factory
from reconciler.cli.app import main
from reconciler.sandbox.clock import VirtualClock
from tests.config_inputs import KINDS, Case, check_answer, example_sources, make_case, run_case
from tests.fakes import fake_ports

SOURCES = example_sources(fit_fakes=True)


@pytest.fixture(scope="module")
def fake_world() -> Iterator[None]:
    """Every command reads the in-memory fakes, on a virtual clock, with no AWS endpoint reachable."""
    saved = factory.build_ports
    factory.build_ports = lambda desired, **_: fake_ports()  # type: ignore[assignment]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        env.setenv("CLUMIO_API_TOKEN", "fake")
        yield
    factory.build_ports = saved


# ~80 cases × (validate text + json + plan, apply on one in four) take ~8 s on a loaded 2-core runner; the
# 10,000-case run is benchmarks/config_fuzz.py.
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(set(KINDS))), rng=st.randoms(use_true_random=False), with_apply=st.booleans())
def test_every_generated_input_gets_located_one_line_answers(fake_world: None, kind: str, rng: random.Random,
                                                             with_apply: bool) -> None:
    case = make_case(rng, SOURCES, kind)
    commands = ("validate", "validate-json", "plan") + (("apply",) if with_apply and rng.random() < 0.5 else ())
    with tempfile.TemporaryDirectory() as folder:
        assert run_case(case, Path(folder), lambda argv: main(argv, clock=VirtualClock()), commands) == []


def test_the_oracle_catches_what_issue_10_saw(tmp_path: Path) -> None:
    """The checks above can fail: an unlocated YAML error, a continuation line, an internal error, raw ESC."""
    case = Case("mutation", b"x")
    path = tmp_path / "c.yaml"
    old_yaml = (f'{path}: YAML syntax error: unacceptable character #x001b\n  in "<unicode string>", position 7\n')
    assert check_answer(case, path, ["validate", str(path)], 1, old_yaml, "") == [
        f"unlocated: {path}: YAML syntax error: unacceptable character #x001b",
        'split:   in "<unicode string>", position 7']
    assert check_answer(case, path, ["plan", "-c", str(path)], 1, "", "error: internal error: KeyError: 'soft'\n")[0] \
        .startswith("internal: ")
    assert check_answer(case, path, ["validate", str(path)], 1, f"{path}:1:1: we\x1bst\n", "") == [
        "raw: control or invisible characters reached the terminal"]
    assert check_answer(Case("directory", None), path, ["validate", str(path)], 1, f"{path}: is a directory\n", "") \
        == []


def test_each_class_of_input_is_generated() -> None:
    rng = random.Random(7)
    cases = [make_case(rng, SOURCES, kind) for kind in sorted(set(KINDS))]
    assert cases[sorted(set(KINDS)).index("directory")].content is None
    assert all(case.content is not None for case in cases if case.kind != "directory")
