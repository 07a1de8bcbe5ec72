"""Validate parsed data against schemas/desired-state.schema.json and word each error for a person.

The schema is the single source of truth for shapes, patterns and defaults; it also carries our messages as
annotations (``x-error``, ``x-errors: {keyword: message}``, ``x-hint``), which editors ignore. ``{value}`` in a
message is replaced by the offending value as written.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from reconciler.config.checks_base import looks_like_token
from reconciler.config.diagnostics import DocPath, did_you_mean, format_path, show
from reconciler.config.schema_fast import surely_valid
from reconciler.config.source import Document

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# Keys under ``clumio`` that mean someone pasted the API token into the file.
TOKEN_KEYS = frozenset(
    {
        "token",
        "api_token",
        "apitoken",
        "api_key",
        "apikey",
        "bearer",
        "bearer_token",
        "clumio_token",
        "secret",
        "password",
        "access_token",
        "auth_token",
    }
)
TOKEN_HINT = (
    "keep the token out of the file: export it (e.g. CLUMIO_API_TOKEN=...) and name the variable with "
    "clumio.token_env (default CLUMIO_API_TOKEN)"
)

_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}


@cache
def load_schema() -> dict[str, Any]:
    """The desired-state JSON Schema shipped with the package."""
    text = resources.files("reconciler.schemas").joinpath("desired-state.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # only for a file the quick check did not accept (~50-70 ms)

    return Draft202012Validator(load_schema())


def _type_of(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "an empty value" if value is None else type(value).__name__


def _custom(error: ValidationError, key: str = "x-error") -> str | None:
    schema = error.schema if isinstance(error.schema, dict) else {}
    specific = schema.get("x-errors", {})
    if isinstance(specific, dict) and error.validator in specific:
        return str(specific[error.validator])
    message = schema.get(key)
    return str(message) if isinstance(message, str) else None


def _branch_errors(error: ValidationError) -> list[ValidationError] | None:
    """For a oneOf/anyOf failure: the errors of the one branch whose type fits the value, if exactly one does."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        index = sub.relative_schema_path[0]
        if isinstance(index, int):
            branches.setdefault(index, []).append(sub)
    fitting = [
        subs
        for subs in branches.values()
        if not any(s.validator == "type" and len(s.relative_schema_path) == 2 for s in subs)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _message(error: ValidationError, where: str, written: str | None = None) -> tuple[str, str | None]:
    """Message and hint for one schema error (the value is shown, except where the schema's message omits it)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint") if isinstance(schema.get("x-hint"), str) else None
    value = error.instance
    custom = _custom(error)
    specific = schema.get("x-errors")
    if error.validator == "type" and not (isinstance(specific, dict) and "type" in specific):
        expected = schema.get("type")
        kinds = [str(t) for t in (expected if isinstance(expected, list) else [expected])]
        names = " or ".join(_TYPE_NAMES.get(kind, kind) for kind in kinds)
        scalar = value is not None and not isinstance(value, dict | list | str)
        if expected == "string" and scalar and written is not None:
            # YAML 1.1 turns unquoted 0123, 24.10, yes and 2024-01-01 into numbers, booleans and dates.
            return f"{where}: must be a quoted string; YAML reads {written} as {_type_of(value)}", (
                hint or f'quote it: "{written}"'
            )
        return f"{where}: must be {names}, got {_type_of(value)}", hint
    if error.validator == "enum":
        choices = [str(c) for c in schema.get("enum", [])]
        suggestion = did_you_mean(str(value), choices) if isinstance(value, str) else None
        message = (
            custom.replace("{value}", show(value)) if custom else f"{show(value)} is not one of {', '.join(choices)}"
        )
        return f"{where}: {message}", (f"did you mean {suggestion}?" if suggestion else hint or None)
    if custom is not None:
        return f"{where}: {custom.replace('{value}', show(value))}", hint
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "a key"
        return f"{where}: missing required key {missing}", hint
    if error.validator == "const":
        return f"{where}: must be {show(schema.get('const'))}", hint
    if error.validator in ("minimum", "maximum"):
        word = "at least" if error.validator == "minimum" else "at most"
        return f"{where}: must be {word} {error.validator_value}, got {show(value)}", hint
    if error.validator == "pattern":
        return f"{where}: {show(value)} is not in the expected form", hint
    return f"{where}: {error.message}", hint


def _additional(doc: Document, error: ValidationError) -> Iterator[tuple[DocPath, str, str | None]]:
    """One message per unknown key, at the key, with the closest known key as hint."""
    at: DocPath = tuple(error.absolute_path)
    allowed = sorted((error.schema.get("properties") or {}).keys()) if isinstance(error.schema, dict) else []
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in instance:
        if key in allowed:
            continue
        if at == ("clumio",) and key.lower() in TOKEN_KEYS:
            yield (*at, key), f"clumio.{key}: a literal API token must not be written in the file", TOKEN_HINT
            continue
        suggestion = did_you_mean(key, allowed)
        hint = f"did you mean {suggestion}?" if suggestion else f"known keys here: {', '.join(allowed)}"
        where = f"{format_path(at)}: unknown key" if at else "unknown top-level key"
        yield (*at, key), f"{where} {show(key)}", hint


def _flatten(error: ValidationError) -> ValidationError:
    """Descend into oneOf/anyOf when only one alternative could have been meant (the one matching the type)."""
    while error.validator in ("oneOf", "anyOf"):
        branch = _branch_errors(error)
        if not branch:
            break
        error = sorted(branch, key=lambda e: [str(p) for p in e.relative_schema_path])[0]
    return error


def schema_diagnostics(doc: Document) -> None:
    """Validate ``doc.data``; every error becomes a diagnostic at the line and column it concerns."""
    if surely_valid(load_schema(), doc.data):
        return
    for raw in _validator().iter_errors(doc.data):
        error = _flatten(raw)
        at: DocPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            for key_path, message, hint in _additional(doc, error):
                doc.error(key_path, message, hint, key=True)
            continue
        if "propertyNames" in error.schema_path:
            key_path = (*at, str(error.instance))
            message, hint = _message(error, format_path(at))
            doc.error(key_path, message, hint, key=True)
            continue
        message, hint = _message(error, format_path(at), doc.written.get(at))
        if at[:1] == ("clumio",) and isinstance(error.instance, str) and looks_like_token(error.instance):
            # A token pasted into the wrong field must not be echoed into a CI log.
            message, hint = (
                message.replace(show(error.instance), "this value (hidden: it looks like a token)"),
                TOKEN_HINT,
            )
        doc.error(at, message, hint, key=error.validator == "required")
