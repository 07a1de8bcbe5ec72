"""Property: whatever is done to a valid file, `clumio-org validate` answers with exit 0 or 1, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from tests.unit.config.helpers import VALID

ROOT = Path(__file__).parents[3]
SOURCES = [VALID] + [
    (ROOT / "examples" / name).read_text() for name in ("minimal.yaml", "enterprise.yaml", "demo.yaml")
]

# Fragments that have broken real YAML files, or that probe the loader's edges (tags, aliases, interpolation).
FRAGMENTS = [
    "",
    "-1",
    "0",
    "150%",
    '"25%"',
    "{count: 1, percent: 2}",
    "[",
    "]",
    "{",
    "}",
    "${env:NOT_SET_X}",
    "${x}",
    "$${env:X}",
    "&a x",
    "*a",
    "*nope",
    "~",
    "null",
    "true",
    "1.5",
    '"',
    "'",
    "ou-",
    "o-x",
    "012345678901",
    "\t",
    ": :",
    "- - -",
    "!!python/object:os.system",
    "!!binary aGk=",
    "!!int abc",
    "2024-01-01",
    "<<: *a",
    "? a",
    "|",
    ">",
    "---",
    "...",
    "%YAML 1.1",
    "#",
    "rest: true",
    "sample: 0",
    "us-east-1",
    "cn-north-1",
    "api_token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    'accounts: ["100000000001"]',
    "[1, [2, {3: 4}]]",
]

mutation = st.tuples(
    st.sampled_from(["delete", "duplicate", "replace_value", "insert", "indent", "dedent", "swap"]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)),
)


def mutate(text: str, steps: list[tuple[str, float, float, str]]) -> str:
    lines = text.split("\n")
    for kind, where, other, fragment in steps:
        if not lines:
            lines = [fragment]
            continue
        i = min(int(where * len(lines)), len(lines) - 1)
        j = min(int(other * len(lines)), len(lines) - 1)
        line = lines[i]
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "replace_value":
            head, sep, _ = line.partition(": ")
            lines[i] = f"{head}: {fragment}" if sep else f"{line[: len(line) - len(line.lstrip())]}- {fragment}"
        elif kind == "insert":
            cut = min(int(other * (len(line) + 1)), len(line))
            lines[i] = line[:cut] + fragment + line[cut:]
        elif kind == "indent":
            lines[i] = "  " + line
        elif kind == "dedent":
            lines[i] = line[2:] if line.startswith("  ") else line
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# ~200 runs of the whole CLI take 10-20 s on a loaded 2-core runner.
@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(SOURCES),
    steps=st.lists(mutation, min_size=1, max_size=3),
    as_json=st.booleans(),
)
def test_mutated_files_never_crash_validate(
    source: str, steps: list[tuple[str, float, float, str]], as_json: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.yaml"
        path.write_text(mutate(source, steps), encoding="utf-8")
        code, out, err = run(["validate", *(["--format", "json"] if as_json else []), str(path)])
        assert code in (0, 1), (code, out, err)
        assert "internal error" not in err and "Traceback" not in out + err, out + err
        if as_json:
            report = json.loads(out)
            assert report["valid"] is (code == 0)
            assert all(d["message"] for f in report["files"] for d in f["diagnostics"])
        elif code == 0:
            assert out.strip() == f"{path}: ok"
        else:
            assert out.startswith(f"{path}:")


def test_mutation_helper_changes_the_text() -> None:
    assert mutate("a: 1\nb: 2", [("replace_value", 0.0, 0.0, "-1")]) == "a: -1\nb: 2"
    assert mutate("a: 1\nb: 2", [("delete", 0.9, 0.0, "")]) == "a: 1"
