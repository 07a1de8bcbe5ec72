"""Reading YAML: positions, interpolation and the YAML features a desired-state file must not rely on."""

from __future__ import annotations

from pathlib import Path

from reconciler.files.config import load_desired, validate_file
from tests.unit.config.helpers import VALID, split_mark, variant, write


def _only(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[int | None, int | None, str]:
    clean, _, _ = split_mark(text)
    diagnostics = validate_file(write(tmp_path, clean), env=env or {})
    assert len(diagnostics) == 1, [d.render() for d in diagnostics]
    return diagnostics[0].line, diagnostics[0].column, diagnostics[0].message


def test_missing_variable_inside_a_quoted_string_points_at_the_reference(tmp_path: Path) -> None:
    text = variant(("  portal: west\n", '  api_url: "https://«${env:CLUMIO_HOST}/api"\n'))
    _, line, column = split_mark(text)
    assert _only(tmp_path, text)[:2] == (line, column)


def test_several_references_in_one_value_are_all_replaced(tmp_path: Path) -> None:
    text = variant(("  portal: west\n", "  api_url: ${env:SCHEME}://${env:HOST}\n"))
    desired = load_desired(write(tmp_path, text), env={"SCHEME": "http", "HOST": "127.0.0.1:4566"})
    assert desired.clumio.api_url == "http://127.0.0.1:4566"


def test_a_second_yaml_document_is_refused(tmp_path: Path) -> None:
    line, _, message = _only(tmp_path, VALID + "---\nversion: 1\n")
    assert (line, message) == (12, "more than one YAML document (---) in the file")


def test_merge_keys_are_refused_with_a_hint(tmp_path: Path) -> None:
    text = VALID + "stack_set: &base\n  name: a\nmanagement_account:\n  «<<: *base\n"
    clean, line, column = split_mark(text)
    diagnostics = validate_file(write(tmp_path, clean), env={})
    assert any(
        (d.line, d.column) == (line, column) and "merge keys (<<) are not supported" in d.message for d in diagnostics
    )


def test_windows_line_endings_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode())
    assert validate_file(path, env={}) == []


def test_a_file_that_is_not_utf8_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("clumio:", "# caf\xe9\nclumio:").encode("latin-1"))
    diagnostics = validate_file(path, env={})
    assert [(d.line, d.column, d.message) for d in diagnostics] == [(6, 6, "byte 0xe9 is not UTF-8 text")]


def test_anchors_and_aliases_for_repeated_values_work(tmp_path: Path) -> None:
    text = variant(("regions: [us-east-1, us-west-2]", "regions: &r [us-east-1, us-west-2]"))
    text += "rollout:\n  region_order: *r\n"
    assert load_desired(write(tmp_path, text), env={}).rollout.region_order == ("us-east-1", "us-west-2")


def test_alias_bombs_stop_at_a_limit(tmp_path: Path) -> None:
    bomb = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]\n"
    diagnostics = validate_file(write(tmp_path, VALID + bomb), env={})
    assert any("aliases expand to more than" in d.message for d in diagnostics)
