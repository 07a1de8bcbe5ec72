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
from reconciler.config.encoding import line_column

Position = tuple[int, int]  # 1-based (line, column)

# "$${" writes a literal "${"; "${env:NAME}" is replaced by the variable; any other "${...}" is a mistake.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")
_STR_TAG = "tag:yaml.org,2002:str"
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
# The deepest key of a desired state (rollout.waves[0].max_concurrent.count) is 5 levels down; 20 leaves room for
# any layout a person writes and refuses, before anything recurses into it, a file nested thousands deep.
MAX_DEPTH = 20
# Every value of the file counts once; values reached again through an alias count against a smaller budget, so
# a "billion laughs" file stops at the first alias past it instead of expanding.
MAX_VALUES = 200_000
MAX_ALIAS_VALUES = 10_000
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


def _mark(node: yaml.Node | yaml.Event) -> Position:
    mark = node.start_mark
    return (1, 1) if mark is None else (mark.line + 1, mark.column + 1)


def _tab_diagnostics(path: str, text: str) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
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


def _syntax_diagnostic(path: str, exc: yaml.YAMLError, text: str) -> Diagnostic:
    """PyYAML's error as one located line: its problem, and what it was reading, with where that started."""
    problem = str(getattr(exc, "problem", None) or "invalid YAML")
    hint = None
    if "mapping values are not allowed" in problem:
        hint = 'a value that contains ": " must be quoted, and nested keys need deeper indentation'
    elif "expected <block end>" in problem or "did not find expected" in problem:
        hint = "check the indentation of this line against the lines above it"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context:
        started = ""
        if context_mark is not None and context_mark is not mark:
            started = f" at line {context_mark.line + 1}, column {context_mark.column + 1}"
        problem += f" ({context}{started})"
    if "maximum nesting depth" in problem:  # libyaml's own bound (1,000), met before ours while scanning
        problem, hint = f"nested more than {MAX_DEPTH} levels deep", "check the indentation and brackets"
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    elif isinstance(exc, yaml.reader.ReaderError):
        line, column = line_column(text, exc.position)
        problem = f"character {exc.character!r} cannot be read: {exc.reason}"
    else:
        line, column = 1, 1
    return Diagnostic(path, line, column, f"YAML syntax error: {problem}", hint)


def _too_deep(path: str, text: str) -> Diagnostic | None:
    """The first collection nested deeper than MAX_DEPTH, found from the event stream (which does not recurse), so
    neither PyYAML's composer nor the builder or the schema validator ever recurse into it."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _mark(event)
                return Diagnostic(path, line, column, f"nested more than {MAX_DEPTH} levels deep",
                                  "no desired-state key is nested that deep; check the indentation and brackets")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


class _Builder:
    """Turns the node tree into plain data, recording positions and reporting what YAML itself lets through."""

    def __init__(self, doc: Document, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env
        self.scalars = yaml.SafeLoader("")
        self.open_nodes: set[int] = set()
        self.built: set[int] = set()
        self.budget = MAX_VALUES
        self.alias_budget = MAX_ALIAS_VALUES
        self.sizes: dict[int, int] = {}
        self.stopped = False

    def _report(self, node: yaml.Node, message: str, hint: str | None = None) -> None:
        line, column = _mark(node)
        self.doc.diagnostics.append(Diagnostic(self.doc.path, line, column, message, hint))

    def _within_bounds(self, node: yaml.Node, depth: int, through_alias: bool) -> bool:
        """Aliases can make the tree cyclic, deep or exponentially large ("billion laughs"); none is a real config.
        Each bound is reported once, where it was crossed, and stops the build there."""
        if self.stopped:
            return False
        self.budget -= 1
        self.alias_budget -= 1 if through_alias else 0
        if id(node) in self.open_nodes:
            self._report(node, "YAML alias refers to itself", "write the values out")
        elif depth > MAX_DEPTH:
            self._report(node, f"aliases nest values more than {MAX_DEPTH} levels deep", "write the values out")
        elif self.alias_budget < 0:
            self._report(node, f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values", "write the values out")
        elif self.budget < 0:
            self._report(node, f"the file holds more than {MAX_VALUES} values", "split the organization's rollout")
        else:
            return True
        self.stopped = True
        return False

    def _size(self, root: yaml.Node) -> int:
        """How many values ``root`` expands to with aliases followed, capped just past the alias budget (memoized,
        without recursion; a cycle counts as unbounded). Lets a bomb be refused at its first alias, in time linear
        in the file, instead of after expanding the budget's worth of values."""
        cap = MAX_ALIAS_VALUES + 1
        sizes, on_path = self.sizes, set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            key = id(node)
            children = ([value for _, value in node.value] if isinstance(node, yaml.MappingNode)
                        else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
            if children_done:
                on_path.discard(key)
                sizes.setdefault(key, min(cap, 1 + sum(sizes[id(child)] for child in children)))
            elif key not in sizes:
                if key in on_path or not children:
                    sizes[key] = cap if key in on_path else 1
                    continue
                on_path.add(key)
                stack.append((node, True))
                stack.extend((child, False) for child in children)
        return sizes[id(root)]

    def build(self, node: yaml.Node, at: DocPath, depth: int = 1, through_alias: bool = False) -> object:
        self.doc.values[at] = _mark(node)
        alias_root = not through_alias and id(node) in self.built
        through_alias = through_alias or alias_root
        if alias_root and id(node) not in self.open_nodes and self._size(node) > max(self.alias_budget, 0):
            self._report(node, f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values", "write the values out")
            self.stopped = True
        if not self._within_bounds(node, depth, through_alias):
            return None
        if isinstance(node, yaml.CollectionNode):
            if node.tag not in _COLLECTION_TAGS:
                self._report(node, f"unsupported YAML tag {show(node.tag)}", "remove the tag")
            self.built.add(id(node))
            self.open_nodes.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, at, depth, through_alias)
                items: list[object] = []
                for index, item in enumerate(node.value):
                    if self.stopped:
                        break  # a bound was crossed: the rest would only be walked to be thrown away
                    items.append(self.build(item, (*at, index), depth + 1, through_alias))
                return items
            finally:
                self.open_nodes.discard(id(node))
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == _STR_TAG:
            return self._interpolate(node, at)
        return self._scalar(node, at)

    def _scalar(self, node: yaml.ScalarNode, at: DocPath) -> object:
        self.doc.written[at] = str(node.value)
        # PyYAML's constructors trust the tag: an explicit `!!bool soft` or `!!timestamp x` raises KeyError or
        # AttributeError inside them. A tag is accepted only on a value that YAML would read as that type anyway.
        if node.tag not in _SCALAR_TAGS:
            self._report(node, f"unsupported YAML tag {show(node.tag)}", "remove the tag; quote strings instead")
            self.doc.unresolved.add(at)
            return str(node.value)
        implicit = self.scalars.resolve(yaml.ScalarNode, str(node.value), (True, False))  # type: ignore[no-untyped-call]
        if implicit != node.tag:
            kind = node.tag.rsplit(":", 1)[-1]
            self._report(node, f"{show(str(node.value))} is not a valid !!{kind} value", "remove the tag")
            self.doc.unresolved.add(at)  # reported; the schema need not say again that a string is no boolean
            return str(node.value)
        try:
            return self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:  # 2024-13-45, an integer of 5,000 digits
            problem = getattr(exc, "problem", None) or str(exc)
            self._report(node, f"cannot read value {show(str(node.value))}: {problem}")
            return node.value

    def _mapping(self, node: yaml.MappingNode, at: DocPath, depth: int, through_alias: bool) -> dict[str, object]:
        result: dict[str, object] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if self.stopped:
                break
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
            result[key] = self.build(value_node, (*at, key), depth + 1, through_alias)
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
    """Parse ``text`` (as ``encoding.decode`` returns it); problems are collected in ``Document.diagnostics`` (tabs
    stop the parse: nothing after a tab-indented line can be trusted)."""
    doc = Document(path)
    tabs = _tab_diagnostics(path, text)
    if tabs:
        doc.diagnostics.extend(tabs)
        return doc
    try:
        deep = _too_deep(path, text)
        if deep is not None:
            doc.diagnostics.append(deep)
            return doc
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        doc.diagnostics.append(_syntax_diagnostic(path, exc, text))
        return doc
    if not nodes or nodes[0] is None:
        doc.diagnostics.append(Diagnostic(path, 1, 1, "the file is empty", "start from examples/minimal.yaml"))
        return doc
    if len(nodes) > 1:
        line, column = _mark(nodes[1])
        doc.diagnostics.append(
            Diagnostic(path, line, column, "more than one YAML document (---) in the file", "keep one document")
        )
    builder = _Builder(doc, env)
    doc.data = builder.build(nodes[0], ())
    if builder.stopped:
        doc.data = None  # a partial tree would only add misleading schema errors to the one that matters
    elif not isinstance(doc.data, dict):
        line, column = _mark(nodes[0])
        doc.diagnostics.append(
            Diagnostic(path, line, column, "the file must be a mapping of keys (version, organization, clumio, ...)")
        )
    return doc
