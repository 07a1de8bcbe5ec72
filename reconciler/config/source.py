"""Read a desired-state YAML file into plain data plus the line/column of every key and value in it.

PyYAML's composer gives a node tree with marks; walking it ourselves (instead of ``yaml.safe_load``) lets us report
duplicate keys, which safe_load silently overwrites, and point every later message at a line and column.
``${env:NAME}`` references in strings are replaced here, so the schema and the checks see the final values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from reconciler.config.diagnostics import Diagnostic, DocPath, show

Position = tuple[int, int]  # 1-based (line, column)

# "$${" writes a literal "${"; "${env:NAME}" is replaced by the variable; any other "${...}" is a mistake.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")
_STR_TAG = "tag:yaml.org,2002:str"
_MAX_NODES = 50_000
# libyaml composes ~15x faster than pure Python and keeps the same (character-based) marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """The parsed file: ``data`` as JSON-like values, and where each value and each mapping key starts."""

    path: str
    data: object = None
    values: dict[DocPath, Position] = field(default_factory=dict)
    keys: dict[DocPath, Position] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Values whose ${env:NAME} could not be resolved: already reported, so later checks stay quiet about them.
    unresolved: set[DocPath] = field(default_factory=set)
    # Non-string scalars as written (YAML 1.1 reads 012345678901 as an octal number; messages show what was typed).
    written: dict[DocPath, str] = field(default_factory=dict)

    def position(self, at: DocPath, *, key: bool = False) -> Position:
        """Where ``at`` is written: its key when ``key`` (or when it has no value mark), else its value; the
        nearest enclosing place when ``at`` itself is not in the file (a default, a missing key)."""
        probe = at
        while True:
            table = (self.keys, self.values) if key else (self.values, self.keys)
            for positions in table:
                if probe in positions:
                    return positions[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]
            key = True  # a missing child is best shown at its parent's key

    def error(self, at: DocPath, message: str, hint: str | None = None, *, key: bool = False) -> None:
        if at in self.unresolved:
            return
        line, column = self.position(at, key=key)
        self.diagnostics.append(Diagnostic(self.path, line, column, message, hint))


def _mark(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _tab_diagnostics(path: str, text: str) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(
                Diagnostic(
                    path,
                    number,
                    indent.index("\t") + 1,
                    "tab character in indentation: YAML indents with spaces only",
                    "replace the tab with spaces (set your editor to insert spaces for .yaml files)",
                )
            )
    return found


def _syntax_diagnostic(path: str, exc: yaml.YAMLError) -> Diagnostic:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        hint = None
        if "mapping values are not allowed" in problem:
            hint = 'a value that contains ": " must be quoted, and nested keys need deeper indentation'
        elif "expected <block end>" in problem or "did not find expected" in problem:
            hint = "check the indentation of this line against the lines above it"
        context = f" ({exc.context})" if exc.context else ""
        return Diagnostic(path, mark.line + 1, mark.column + 1, f"YAML syntax error: {problem}{context}", hint)
    return Diagnostic(path, None, None, f"YAML syntax error: {exc}")


class _Builder:
    """Turns the node tree into plain data, recording positions and reporting what YAML itself lets through."""

    def __init__(self, doc: Document, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env
        self.scalars = yaml.SafeLoader("")
        self.open_nodes: set[int] = set()
        self.budget = _MAX_NODES

    def build(self, node: yaml.Node, at: DocPath) -> object:
        self.doc.values[at] = _mark(node)
        # Aliases can make the tree cyclic or exponentially large ("billion laughs"); neither is a real config.
        self.budget -= 1
        if id(node) in self.open_nodes:
            line, column = _mark(node)
            self.doc.diagnostics.append(Diagnostic(self.doc.path, line, column, "YAML alias refers to itself"))
            return None
        if self.budget < 0:
            if self.budget == -1:  # report once, where the limit was crossed
                line, column = _mark(node)
                message = f"YAML aliases expand to more than {_MAX_NODES} values; write the values out"
                self.doc.diagnostics.append(Diagnostic(self.doc.path, line, column, message))
            return None
        if isinstance(node, yaml.CollectionNode):
            self.open_nodes.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, at)
                return [self.build(item, (*at, index)) for index, item in enumerate(node.value)]
            finally:
                self.open_nodes.discard(id(node))
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == _STR_TAG:
            return self._interpolate(node, at)
        self.doc.written[at] = str(node.value)
        try:
            return self.scalars.construct_object(node, deep=True)
        # An explicit tag (!!int abc, !!binary ...) can make PyYAML's constructors raise plain Python errors too.
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            line, column = _mark(node)
            problem = getattr(exc, "problem", None) or str(exc)
            self.doc.diagnostics.append(Diagnostic(self.doc.path, line, column, f"cannot read value: {problem}"))
            return node.value

    def _mapping(self, node: yaml.MappingNode, at: DocPath) -> dict[str, object]:
        result: dict[str, object] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line, column = _mark(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.diagnostics.append(
                    Diagnostic(self.doc.path, line, column, "keys must be plain names, not lists or mappings")
                )
                continue
            key = str(key_node.value)
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                self.doc.diagnostics.append(
                    Diagnostic(
                        self.doc.path, line, column, "YAML merge keys (<<) are not supported", "write the keys out"
                    )
                )
                continue
            if key in first_seen:
                self.doc.diagnostics.append(
                    Diagnostic(
                        self.doc.path,
                        line,
                        column,
                        f"duplicate key {show(key)} (first written at line {first_seen[key]})",
                        "YAML keeps only one of them; remove or merge the duplicate",
                    )
                )
                continue
            first_seen[key] = line
            self.doc.keys[(*at, key)] = (line, column)
            result[key] = self.build(value_node, (*at, key))
        return result

    def _interpolate(self, node: yaml.ScalarNode, at: DocPath) -> str:
        value = str(node.value)
        if "${" not in value:
            return value

        def column_of(offset: int) -> Position:
            line, column = _mark(node)
            # Only a one-line scalar maps an offset to a column; quoted ones start one character later.
            if node.start_mark.line == node.end_mark.line:
                column += offset + (1 if node.style in ("'", '"') else 0)
            return (line, column)

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            inner = match.group(1)
            name = _ENV_NAME.fullmatch(inner.strip())
            line, column = column_of(match.start())
            if name is None:
                self.doc.diagnostics.append(
                    Diagnostic(
                        self.doc.path,
                        line,
                        column,
                        f"unsupported reference ${{{inner}}}: only ${{env:NAME}} is understood",
                        "write ${env:NAME} to use environment variable NAME, or $${ for a literal ${",
                    )
                )
                self.doc.unresolved.add(at)
                return match.group(0)
            variable = name.group(1)
            if variable not in self.env:
                self.doc.unresolved.add(at)
                self.doc.diagnostics.append(
                    Diagnostic(
                        self.doc.path,
                        line,
                        column,
                        f"environment variable {variable} is not set (referenced as ${{env:{variable}}})",
                        f"export {variable}=... before running clumio-org, or write the value in the file",
                    )
                )
                return ""
            return self.env[variable]

        return _REFERENCE.sub(replace, value)


def read_document(path: str, text: str, env: Mapping[str, str]) -> Document:
    """Parse ``text``; problems are collected in ``Document.diagnostics`` (tabs stop the parse: nothing after a
    tab-indented line can be trusted)."""
    doc = Document(path)
    tabs = _tab_diagnostics(path, text)
    if tabs:
        doc.diagnostics.extend(tabs)
        return doc
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        doc.diagnostics.append(_syntax_diagnostic(path, exc))
        return doc
    if not nodes or nodes[0] is None:
        doc.diagnostics.append(Diagnostic(path, None, None, "the file is empty", "start from examples/minimal.yaml"))
        return doc
    if len(nodes) > 1:
        line, column = _mark(nodes[1])
        doc.diagnostics.append(
            Diagnostic(path, line, column, "more than one YAML document (---) in the file", "keep one document")
        )
    doc.data = _Builder(doc, env).build(nodes[0], ())
    if not isinstance(doc.data, dict):
        doc.diagnostics.append(
            Diagnostic(path, 1, 1, "the file must be a mapping of keys (version, organization, clumio, ...)")
        )
    return doc
