"""A quick yes/no check of parsed data against the desired-state schema, so a valid file is accepted without importing
jsonschema (~50-70 ms of every `validate`, `plan`, … start-up).

It answers True only when it is sure the data is valid: it understands the keywords the schema uses (draft 2020-12
semantics), and anything it does not understand — an unknown keyword, a non-local ``$ref``, a value that is not plain
JSON data (a YAML date, a non-string key), ``uniqueItems`` over anything but strings and numbers — makes it answer
False. False means "ask jsonschema", which then finds and words every error; so the check can only make a valid file
faster, never change a verdict or a message. tests/unit/config/test_schema_fast.py compares both on many documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
                          "deprecated", "readOnly", "writeOnly"})
_TYPES: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


class _Unsure(Exception):
    """The check met something it does not model; jsonschema decides."""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    """JSON equality for the plain values enum/const hold; anything else is left to jsonschema."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return a == b
    if isinstance(a, str | type(None)) and isinstance(b, str | type(None)):
        return a == b
    raise _Unsure


class _Checker:
    def __init__(self, root: Schema) -> None:
        self.root = root

    def ref(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise _Unsure
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def valid(self, schema: Any, value: object) -> bool:  # noqa: C901, PLR0911, PLR0912 - one branch per keyword
        if schema is True:
            return True
        if schema is False or not isinstance(schema, dict):
            return schema is not False and _unsure()
        for key, rule in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "$ref":
                ok = self.valid(self.ref(rule), value)
            elif key == "type":
                ok = any(_TYPES[name](value) for name in ([rule] if isinstance(rule, str) else rule))
            elif key == "enum":
                ok = any(_same(value, choice) for choice in rule)
            elif key == "const":
                ok = _same(value, rule)
            elif key in ("allOf", "anyOf", "oneOf"):
                passed = sum(1 for branch in rule if self.valid(branch, value))
                ok = passed == len(rule) if key == "allOf" else (passed >= 1 if key == "anyOf" else passed == 1)
            elif key == "if":
                branch = "then" if self.valid(rule, value) else "else"
                ok = self.valid(schema.get(branch, True), value)
            elif key in ("then", "else"):
                continue  # with "if"
            elif isinstance(value, str) and key in ("pattern", "minLength", "maxLength"):
                ok = (re.search(rule, value) is not None if key == "pattern"
                      else len(value) >= rule if key == "minLength" else len(value) <= rule)
            elif _number(value) and key in ("minimum", "maximum"):
                ok = value >= rule if key == "minimum" else value <= rule
            elif isinstance(value, list) and key in ("items", "minItems", "uniqueItems"):
                ok = self.array(key, rule, value)
            elif isinstance(value, dict) and key in ("properties", "additionalProperties", "required",
                                                     "minProperties", "maxProperties", "propertyNames"):
                ok = self.mapping(key, rule, value, schema)
            elif key in ("pattern", "minLength", "maxLength", "minimum", "maximum", "items", "minItems",
                         "uniqueItems", "properties", "additionalProperties", "required", "minProperties",
                         "maxProperties", "propertyNames"):
                continue  # the keyword does not apply to this type of value
            else:
                raise _Unsure
            if not ok:
                return False
        return True

    def array(self, key: str, rule: Any, value: list[Any]) -> bool:
        if key == "items":
            if not isinstance(rule, dict | bool):
                raise _Unsure
            return all(self.valid(rule, item) for item in value)
        if key == "minItems":
            return len(value) >= rule  # type: ignore[no-any-return]
        if not rule:
            return True
        if not all(isinstance(item, str) or _number(item) for item in value):
            raise _Unsure
        seen = [(isinstance(item, str), item) for item in value]
        return len(set(seen)) == len(seen)

    def mapping(self, key: str, rule: Any, value: dict[Any, Any], schema: Schema) -> bool:
        if not all(isinstance(name, str) for name in value):
            raise _Unsure
        if "patternProperties" in schema:
            raise _Unsure
        if key == "properties":
            return all(self.valid(rule[name], item) for name, item in value.items() if name in rule)
        if key == "additionalProperties":
            known = schema.get("properties", {})
            return all(self.valid(rule, item) for name, item in value.items() if name not in known)
        if key == "required":
            return all(name in value for name in rule)
        if key == "minProperties":
            return len(value) >= rule  # type: ignore[no-any-return]
        if key == "maxProperties":
            return len(value) <= rule  # type: ignore[no-any-return]
        return all(self.valid(rule, name) for name in value)


def _unsure() -> bool:
    raise _Unsure


def surely_valid(schema: Schema, value: object) -> bool:
    """True only when ``value`` is certainly valid against ``schema``; False when invalid or unsure."""
    try:
        return _Checker(schema).valid(schema, value)
    except (_Unsure, KeyError, TypeError, re.error, RecursionError):
        return False
