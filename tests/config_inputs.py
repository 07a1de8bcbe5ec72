"""Generated desired-state inputs, and the oracle every command's answer to them must satisfy.

Shared by the generative test (tests/unit/config/test_generated_inputs.py, driven by hypothesis) and the 10,000-case
run (benchmarks/config_fuzz.py, driven by a seeded random.Random). The classes of input are those of the reliability
run in issue 10: line mutations of the examples, alias bombs, deep nesting, control and bidi characters, byte-order
marks, CRLF, binary, empty files, directories, oversized files and explicit YAML tags.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from reconciler.config.encoding import MAX_BYTES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("minimal.yaml", "enterprise.yaml", "demo.yaml")

# Fragments that have broken real YAML files, or that probe the loader's edges (tags, aliases, interpolation).
FRAGMENTS = (
    "", "-1", "0", "150%", '"25%"', "{count: 1, percent: 2}", "[", "]", "{", "}", "${env:NOT_SET_X}", "${x}",
    "$${env:X}", "&a x", "*a", "*nope", "~", "null", "true", "1.5", '"', "'", "ou-", "o-x", "012345678901", "\t",
    ": :", "- - -", "!!python/object:os.system", "!!binary aGk=", "!!int abc", "!!bool soft", "!!timestamp x",
    "!!float parallel", "!!null canary", "2024-01-01", "2024-13-45", "<<: *a", "? a", "|", ">", "---", "...",
    "%YAML 1.1", "#", "rest: true", "sample: 0", "us-east-1", "cn-north-1", "18446744073709551616", "1e999",
    "9" * 5000, 'accounts: ["100000000001"]', "[1, [2, {3: 4}]]", "&b [*b]",
    "api_token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
)
CONTROL = tuple(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, 0x85, 0x9B)) + (
    "\u061c", "\u200b", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u2028", "\u2029", "\ufeff")
KINDS = ("mutation", "mutation", "mutation", "tag", "alias_bomb", "deep", "control", "bom", "crlf", "binary",
         "empty", "directory", "oversize")
WHOLE_FILE_KINDS = frozenset({"directory", "oversize"})  # no text to point into: FILE: message is right
_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): \S")


def example_sources(fit_fakes: bool) -> list[str]:
    """The examples' text; ``fit_fakes`` rewrites their organization to tests.fakes' world (o-fake000001,
    management 111111111111) and their state to a local file, so `plan`/`apply` on the fakes go past the org check
    and never reach S3."""
    texts = [(ROOT / "examples" / name).read_text(encoding="utf-8") for name in EXAMPLES]
    if not fit_fakes:
        return texts
    fitted = []
    for text in texts:
        text = re.sub(r"o-[a-z0-9]{10,32}", "o-fake000001", text)
        text = re.sub(r'management_account: "\d{12}"', 'management_account: "111111111111"', text)
        text = re.sub(r"\nstate:\n(  .*\n)+", "\nstate:\n  backend: local\n", text)
        text = re.sub(r"\n  assume_role_arn: .*", "", text)
        fitted.append(text)
    return fitted


def mutate(text: str, rng: random.Random, steps: int) -> str:
    """Line edits people make by accident: delete, duplicate, replace a value, insert a fragment, (de)indent, swap."""
    lines = text.split("\n")
    for _ in range(steps):
        fragment = rng.choice(FRAGMENTS) if rng.random() < 0.85 else "".join(
            rng.choice("ab:-[]{}&*!%|>#'\" \t\\$0") for _ in range(rng.randint(1, 8)))
        if not lines:
            lines = [fragment]
            continue
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        line = lines[i]
        kind = rng.choice(("delete", "duplicate", "replace_value", "insert", "indent", "dedent", "swap"))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "replace_value":
            head, sep, _ = line.partition(": ")
            lines[i] = f"{head}: {fragment}" if sep else f"{line[: len(line) - len(line.lstrip())]}- {fragment}"
        elif kind == "insert":
            cut = rng.randint(0, len(line))
            lines[i] = line[:cut] + fragment + line[cut:]
        elif kind == "indent":
            lines[i] = "  " + line
        elif kind == "dedent":
            lines[i] = line[2:] if line.startswith("  ") else line
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _tagged(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    values = [n for n, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")]
    for n in rng.sample(values, min(len(values), rng.randint(1, 3))):
        head, _, value = lines[n].partition(": ")
        tag = rng.choice(("!!bool", "!!timestamp", "!!int", "!!float", "!!null", "!!str", "!!binary", "!!set",
                          "!!python/name:os.system", "!custom", "!!map", "!!seq"))
        lines[n] = f"{head}: {tag} {value}"
    return "\n".join(lines)


def _alias_bomb(rng: random.Random) -> str:
    width, levels = rng.randint(2, 12), rng.randint(2, 12)
    text = f"a0: &a0 [{', '.join(['x'] * width)}]\n"
    for n in range(1, levels):
        text += f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]\n"
    if rng.random() < 0.3:  # a chain: narrow but deep
        text += "".join(f"c{n + 1}: &c{n + 1} [*{'c' + str(n) if n else 'a0'}]\n" for n in range(rng.randint(5, 3000)))
    return text


def _deep(rng: random.Random) -> str:
    depth = rng.choice((rng.randint(15, 30), rng.randint(30, 1200), rng.randint(1200, 20000)))
    style = rng.choice(("flow_seq", "flow_map", "block"))
    if style == "flow_seq":
        return "x: " + "[" * depth + "]" * depth + "\n"
    if style == "flow_map":
        return "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    return "".join("  " * n + "k:\n" for n in range(min(depth, 400)))


def _insert_chars(text: str, rng: random.Random, chars: tuple[str, ...]) -> str:
    for _ in range(rng.randint(1, 4)):
        cut = rng.randint(0, len(text))
        text = text[:cut] + rng.choice(chars) + text[cut:]
    return text


@dataclass(frozen=True)
class Case:
    """One generated input: ``content`` is written as the file (None: the path is made a directory)."""

    kind: str
    content: bytes | None

    def materialize(self, folder: Path) -> Path:
        path = folder / "clumio-org.yaml"
        if self.content is None:
            path.mkdir()
        else:
            path.write_bytes(self.content)
        return path


def make_case(rng: random.Random, sources: list[str], kind: str | None = None) -> Case:
    kind = kind or rng.choice(KINDS)
    source = rng.choice(sources)
    if kind == "mutation":
        return Case(kind, mutate(source, rng, rng.randint(1, 3)).encode())
    if kind == "tag":
        return Case(kind, _tagged(source, rng).encode())
    if kind == "alias_bomb":
        bomb = _alias_bomb(rng)
        return Case(kind, (bomb + source if rng.random() < 0.5 else source + bomb).encode())
    if kind == "deep":
        return Case(kind, (source + _deep(rng)).encode())
    if kind == "control":
        return Case(kind, _insert_chars(source, rng, CONTROL).encode("utf-8", "surrogatepass"))
    if kind == "bom":
        choice = rng.randrange(4)
        if choice == 0:
            return Case(kind, codecs.BOM_UTF8 + source.encode())
        if choice == 1:
            return Case(kind, source.encode(rng.choice(("utf-16", "utf-32", "utf-16-le", "utf-16-be"))))
        return Case(kind, _insert_chars(source, rng, ("\ufeff",)).encode())
    if kind == "crlf":
        text = source.replace("\n", rng.choice(("\r\n", "\r")))
        return Case(kind, (mutate(text, rng, 1) if rng.random() < 0.5 else text).encode())
    if kind == "binary":
        if rng.random() < 0.5:
            return Case(kind, rng.randbytes(rng.randint(1, 4096)))
        raw = bytearray(source.encode())
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return Case(kind, bytes(raw))
    if kind == "empty":
        return Case(kind, rng.choice((b"", b"\n", b"   \n\n", b"# nothing\n", b"---\n", b"...\n", b"~\n")))
    if kind == "directory":
        return Case(kind, None)
    if kind == "oversize":
        return Case(kind, source.encode() + b"#" * (MAX_BYTES - len(source.encode()) + rng.randint(1, 4096)))
    raise ValueError(kind)


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def _raw_characters(text: str) -> bool:
    return any(char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def check_answer(case: Case, path: Path, argv: list[str], code: int, out: str, err: str) -> list[str]:
    """What is wrong with one command's answer to ``case`` (empty when nothing): the exit code, an internal error, a
    located problem printed without FILE:LINE:COL, a message continued on an unlocated line, raw control
    characters. Each finding starts with its class (``internal``, ``unlocated``, ``exit``, ``raw``, ``split``)."""
    found: list[str] = []
    allowed = {0, 1, 3} if argv[0] == "apply" else {0, 1}
    if code not in allowed:
        found.append(f"exit: {argv[0]} exited {code}")
    if "internal error" in err or "Traceback" in out + err:
        found.append(f"internal: {err.strip().splitlines()[0] if err.strip() else out[:200]}")
    if _raw_characters(out + err):
        found.append("raw: control or invisible characters reached the terminal")
    if argv[0] == "validate" and "--format" in argv:
        for diagnostic in json.loads(out)["files"][0]["diagnostics"]:
            if diagnostic["line"] is None and case.kind not in WHOLE_FILE_KINDS:
                found.append(f"unlocated: {diagnostic['message']}")
            if "\n" in diagnostic["message"]:
                found.append(f"split: {diagnostic['message']!r}")
    elif argv[0] == "validate":
        found += _check_listing(case, str(path), out.splitlines(), indent="")
    elif err.startswith(f"error: {path}: ") and " in the desired-state file" in err.splitlines()[0]:
        found += _check_listing(case, str(path), err.splitlines()[1:-1], indent="  ")
    return found


def _check_listing(case: Case, name: str, lines: list[str], indent: str) -> list[str]:
    found = []
    for line in lines:
        body = line[len(indent):] if line.startswith(indent) else line
        if body == f"{name}: ok" or body.startswith("  hint: ") or body.startswith("... and "):
            continue
        located = _LOCATED.match(body)
        if located and located.group("file") == name:
            continue
        if body.startswith(f"{name}: ") and case.kind in WHOLE_FILE_KINDS:
            continue
        found.append(f"{'unlocated' if body.startswith(name) else 'split'}: {body[:160]}")
    return found


Runner = Callable[[list[str]], int]


def run_case(case: Case, folder: Path, run: Runner, commands: tuple[str, ...]) -> list[str]:
    """Run ``commands`` (validate, validate --format json, plan, apply) on ``case``; every finding, prefixed."""
    path = case.materialize(folder)
    found = []
    for command in commands:
        argv = {"validate": ["validate", str(path)], "validate-json": ["validate", "--format", "json", str(path)],
                "plan": ["plan", "-c", str(path)], "apply": ["apply", "-c", str(path), "--auto-approve"]}[command]
        with captured() as (out, err):
            code = run(argv)
        found += [f"{command}: {finding}" for finding in check_answer(case, path, argv, code, out.getvalue(),
                                                                       err.getvalue())]
    return found
