"""Hostile and broken files: each ends in located, one-line problems, never a crash, a hang or raw terminal bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.cli.app import main
from reconciler.config.encoding import MAX_BYTES
from reconciler.config.source import MAX_DEPTH
from reconciler.files.config import validate_file
from tests.unit.config.helpers import VALID, split_mark, variant, write


def _problems(tmp_path: Path, text: str | bytes) -> list[tuple[int | None, int | None, str]]:
    path = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return [(d.line, d.column, d.message) for d in validate_file(path, env={})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # PyYAML's constructors raised KeyError / AttributeError on these (issue 10: 'soft', 'groupdict').
        (VALID + "stack_set:\n  managed_execution: «!!bool soft\n", '"soft" is not a valid !!bool value'),
        (variant(("portal: west", "portal: «!!timestamp west")), '"west" is not a valid !!timestamp value'),
        (variant(("portal: west", "portal: «!!python/name:os.system west")), "unsupported YAML tag"),
        (variant(("portal: west", "portal: «!!binary aGk=")), "unsupported YAML tag"),
        (variant(("portal: west", "portal: «!!int 2024-13-45")), '"2024-13-45" is not a valid !!int value'),
        (variant(("portal: west", "portal: we«\x1bst")), "control character \\x1b"),
        (variant(("portal: west", "portal: we«\u202est")), "invisible bidirectional control character \\u202e"),
        (VALID.replace("clumio:", "# a«\u2028b\nclumio:"), "unusual line break"),
        (VALID.replace("clumio:", "cl«\ufeffumio:"), "byte-order mark \\ufeff inside the file"),
        (VALID + "x: [a: 1\n«", "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence"
                                 " at line 11, column 4)"),
    ],
)
def test_a_broken_value_is_one_problem_at_its_place(tmp_path: Path, text: str, message: str) -> None:
    clean, line, column = split_mark(text)
    problems = _problems(tmp_path, clean)
    assert len(problems) == 1 and problems[0][:2] == (line, column) and message in problems[0][2], problems


def test_a_control_character_is_located_in_the_file_not_the_parser_buffer(tmp_path: Path) -> None:
    problems = _problems(tmp_path, VALID.replace("\n", "\r\n").replace("portal: west", "portal: we\x07st"))
    assert problems == [(7, 13, "control character \\x07 (YAML allows none but tab and line breaks)")]
    assert not any("unicode string" in message or "position" in message for _, _, message in problems)


def test_deep_nesting_is_refused_before_anything_recurses(tmp_path: Path) -> None:
    flow = VALID + "x: " + "[" * 5000 + "]" * 5000 + "\n"
    block = VALID + "".join("  " * i + "k:\n" for i in range(MAX_DEPTH + 5))
    for text in (flow, block):
        problems = _problems(tmp_path, text)
        assert len(problems) == 1 and problems[0][0] is not None and "levels deep" in problems[0][2], problems


def test_aliases_that_nest_deeper_than_the_bound_are_refused(tmp_path: Path) -> None:
    chain = "a0: &a0 [x]\n" + "".join(f"a{i + 1}: &a{i + 1} [*a{i}]\n" for i in range(3000))
    problems = _problems(tmp_path, chain + VALID)
    assert problems == [(1, 10, f"aliases nest values more than {MAX_DEPTH} levels deep")]


def test_an_alias_bomb_is_one_problem_and_no_schema_noise(tmp_path: Path) -> None:
    bomb = "a: &a [" + ", ".join(["x"] * 10) + "]\n"
    for level in "bcdefgh":
        bomb += f"{level}: &{level} [{', '.join(['*' + chr(ord(level) - 1)] * 10)}]\n"
    problems = _problems(tmp_path, bomb + VALID)
    assert len(problems) == 1 and "aliases expand to more than 10000 values" in problems[0][2]


@pytest.mark.parametrize(
    ("raw", "where", "message"),
    [
        (VALID.encode("utf-16"), (1, 1), "the file is UTF-16 text"),
        (VALID.replace("portal: west", "portal: w\xe9st").encode("latin-1"), (7, 12), "byte 0xe9 is not UTF-8 text"),
        (b"version: 1\n\x00\x01\x02\xff\xfe" * 20, (2, 4), "not a text file: byte 0xff is not UTF-8"),
        (b"", (1, 1), "the file is empty"),
        (b"\n\n# only comments\n", (1, 1), "the file is empty"),
    ],
)
def test_bytes_that_are_not_a_utf8_yaml_file_are_located(tmp_path: Path, raw: bytes, where: tuple[int, int],
                                                          message: str) -> None:
    problems = _problems(tmp_path, raw)
    assert len(problems) == 1 and problems[0][:2] == where and problems[0][2].startswith(message), problems


def test_whole_file_problems_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    found = {name: [d.message for d in validate_file(tmp_path / name, env={})]
             for name in ("dir.yaml", "big.yaml", "pipe.yaml", "missing.yaml")}
    assert found == {
        "dir.yaml": ["is a directory, not a desired-state file"],
        "big.yaml": [f"the file is {MAX_BYTES + 1:,} bytes; a desired-state file is at most {MAX_BYTES:,}"],
        "pipe.yaml": ["is not a regular file"],
        "missing.yaml": ["file not found"],
    }


def test_numbers_are_bounded_by_what_aws_accepts(tmp_path: Path) -> None:
    text = VALID + ("rollout:\n  waves:\n    - name: canary\n      sample: «18446744073709551616\n"
                    "      max_concurrent: {count: 2147483648}\n      failure_tolerance: 2147483648\n")
    clean, line, column = split_mark(text)
    problems = _problems(tmp_path, clean)
    assert (line, column, "rollout.waves[0].sample: must be at most 2147483647, got 18446744073709551616") in problems
    assert sum("at most 2147483647" in message for _, _, message in problems) == 3, problems


def test_validate_escapes_what_the_file_says_and_keeps_one_line_per_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("portal: west", "portal: we\u202est\x1b[31m"))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[0] == f"{path}:7:13: invisible bidirectional control character \\u202e (it makes text " \
                                  "display in another order than it is read)"
    assert all(line.startswith((f"{path}:", "  hint: ")) for line in out.splitlines())


def test_plan_prints_a_broken_file_as_error_lines_without_raw_characters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = tmp_path / "we\u202eird.yaml"
    name.write_text(VALID + "stack_set:\n  managed_execution: !!bool soft\n", encoding="utf-8")
    assert main(["plan", "-c", str(name)]) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "\u202e" not in err
    lines = err.splitlines()
    assert lines[0].startswith("error: ") and "we\\u202eird.yaml: 1 problem" in lines[0]
    shown = str(name).replace("\u202e", "\\u202e")
    assert lines[1].strip().startswith(f"{shown}:12:22: ")
    assert lines[-1].startswith("hint: ")


def test_plan_and_apply_on_a_directory_or_a_pipe_say_what_is_there(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")
    for name, what in (("dir.yaml", "is a directory"), ("pipe.yaml", "is not a regular file")):
        for command in (["plan"], ["apply", "--auto-approve"]):
            assert main([*command, "-c", str(tmp_path / name)]) == 1
            assert capsys.readouterr().err.splitlines()[0] == \
                f"error: desired-state file {tmp_path / name} {what} (--config)"
