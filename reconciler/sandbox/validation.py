"""Request validation from botocore's service models: what AWS rejects before any operation logic runs.

Every AWS call the sandbox serves is checked against its operation's input shape — required members, types, enums,
patterns, string lengths, numeric ranges and list sizes — and a mistake is answered the way the service answers that
class of mistake (docs/reference/sandbox-fidelity.md §1): Organizations with ``InvalidInputException`` and its
``Reason``, the query services with ``ValidationError`` and AWS's "N validation errors detected" message, EC2 with
``MissingParameter`` / ``InvalidParameterValue``, and any other service with its model's ``ValidationException``.
Nothing here is written per operation: a service added to the sandbox is validated as soon as it is served.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from reconciler.sandbox.api import AwsFault


@dataclass(frozen=True)
class Violation:
    """One broken constraint: where (AWS's lowerCamel member path), which class of mistake, and AWS's wording."""

    path: str
    kind: str  # required | type | enum | pattern | min_length | max_length | min_value | max_value
    constraint: str  # "Member must not be null", "Member must satisfy enum value set: [A, B]" …
    value: Any


# Organizations names each class of mistake in InvalidInputException.Reason (its model documents every reason).
_ORGANIZATIONS_REASONS = {
    "required": ("INPUT_REQUIRED", "You must include a value for all required parameters."),
    "type": ("INVALID_ENUM", "You specified an invalid value."),
    "enum": ("INVALID_ENUM", "You specified an invalid value."),
    "pattern": ("INVALID_PATTERN", "You provided a value that does not match the required pattern."),
    "min_length": ("MIN_LENGTH_EXCEEDED", "You provided a string parameter that is shorter than allowed."),
    "max_length": ("MAX_LENGTH_EXCEEDED", "You provided a string parameter that is longer than allowed."),
    "min_value": ("MIN_VALUE_EXCEEDED", "You provided a numeric parameter that has a smaller value than allowed."),
    "max_value": ("MAX_VALUE_EXCEEDED", "You provided a numeric parameter that has a larger value than allowed."),
    "list_member": ("INVALID_LIST_MEMBER",
                    "You provided a list to a parameter that contains at least one invalid value."),
}

_patterns: dict[str, re.Pattern[str] | None] = {}
_patterns_lock = threading.Lock()


def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java-flavoured) pattern as a Python regex, or None when Python cannot read it (not checked)."""
    with _patterns_lock:
        if pattern not in _patterns:
            try:
                _patterns[pattern] = re.compile(pattern, re.DOTALL)
            except re.error:
                _patterns[pattern] = None
        return _patterns[pattern]


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "null" if value is None else str(value)


def violations(shape: Shape | None, params: dict[str, Any]) -> list[Violation]:
    """Every constraint of ``shape`` that ``params`` breaks, in the model's member order (empty when valid)."""
    found: list[Violation] = []
    if shape is not None:
        _check_structure(shape, params, "", found)
    return found


def _check_structure(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, dict):
        found.append(Violation(path, "type", "Member must be a structure", value))
        return
    required = shape.required_members
    for name, member in shape.members.items():  # in the model's member order; unknown members are ignored
        item = value.get(name)
        if item is not None:
            _check(member, item, _join(path, name), found)
        elif name in required:
            found.append(Violation(_join(path, name), "required", "Member must not be null", None))


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


def _check(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is not None:
        checker(shape, value, path, found)


def _check_list(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, list):
        found.append(Violation(path, "type", "Member must be a list", value))
        return
    _check_size(shape.metadata, len(value), value, path, found, "length")
    inner: list[Violation] = []
    for index, element in enumerate(value, start=1):
        _check(shape.member, element, f"{path}.{index}.member", inner)
    if inner and shape.member.type_name in ("structure", "list", "map"):
        found.extend(inner)
    elif inner:  # AWS reports a bad scalar element at the list: "Member must satisfy constraint: [<rule>]"
        found.append(Violation(path, "list_member", f"Member must satisfy constraint: [{inner[0].constraint}]",
                               value))


def _check_map(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, dict):
        found.append(Violation(path, "type", "Member must be a map", value))
        return
    _check_size(shape.metadata, len(value), value, path, found, "length")
    for key, element in value.items():
        _check(shape.key, key, f"{path}.{key}.key", found)
        _check(shape.value, element, f"{path}.{key}.value", found)


def _check_string(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, str):
        found.append(Violation(path, "type", "Member must be a string", value))
        return
    meta = shape.metadata
    enum = meta.get("enum")
    if enum and value not in enum:
        found.append(Violation(path, "enum", f"Member must satisfy enum value set: [{', '.join(enum)}]", value))
        return
    _check_size(meta, len(value), value, path, found, "length")
    pattern = meta.get("pattern")
    compiled = _compiled(pattern) if pattern else None
    if compiled is not None and compiled.fullmatch(value) is None:
        found.append(Violation(path, "pattern", f"Member must satisfy regular expression pattern: {pattern}", value))


def _check_number(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    integral = shape.type_name in ("integer", "long")
    allowed: tuple[type, ...] = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        found.append(Violation(path, "type", f"Member must be {'an integer' if integral else 'a number'}", value))
        return
    _check_size(shape.metadata, value, value, path, found, "value")


def _check_scalar(kind: str, wanted: tuple[type, ...], name: str) -> Callable[[Shape, Any, str, list[Violation]], None]:
    def check(shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
        if not isinstance(value, wanted):
            found.append(Violation(path, "type", f"Member must be {name}", value))
        elif kind == "blob":
            _check_size(shape.metadata, len(value), value, path, found, "length")

    return check


_CHECKERS: dict[str, Callable[[Shape, Any, str, list[Violation]], None]] = {
    "structure": _check_structure, "list": _check_list, "map": _check_map, "string": _check_string,
    "integer": _check_number, "long": _check_number, "float": _check_number, "double": _check_number,
    "boolean": _check_scalar("boolean", (bool,), "a boolean"),
    "timestamp": _check_scalar("timestamp", (datetime,), "a timestamp"),
    "blob": _check_scalar("blob", (bytes, bytearray), "a blob"),
}


def _check_size(meta: dict[str, Any], size: float, value: Any, path: str, found: list[Violation],
                measure: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        found.append(Violation(path, f"min_{measure}", f"Member must have {measure} greater than or equal to {low}",
                               value))
    elif high is not None and size > high:
        found.append(Violation(path, f"max_{measure}", f"Member must have {measure} less than or equal to {high}",
                               value))


def validate(model: ServiceModel, operation: OperationModel, params: dict[str, Any]) -> None:
    """Raise the service's own validation error when ``params`` break the operation's input shape."""
    found = violations(operation.input_shape, params)
    if found:
        raise fault_for(model, found)


def fault_for(model: ServiceModel, found: list[Violation]) -> AwsFault:
    """The error ``model``'s service answers for these violations (the first one decides Organizations' Reason)."""
    service = model.service_name
    if service == "organizations":
        first = found[0]
        reason, message = _ORGANIZATIONS_REASONS.get(first.kind, _ORGANIZATIONS_REASONS["enum"])
        return AwsFault("InvalidInputException", message, 400, fields={"Reason": reason})
    if model.protocol == "ec2":
        first = found[0]
        if first.kind == "required":
            return AwsFault("MissingParameter", f"The request must contain the parameter {first.path}")
        return AwsFault("InvalidParameterValue", f"Value ({_show(first.value)}) for parameter {first.path} is "
                                                 f"invalid. {first.constraint}")
    code, status = "ValidationError", 400
    if model.protocol not in ("query",):
        code, status = _modeled_validation_error(model)
    return AwsFault(code, coral_message(found), status)


def coral_message(found: list[Violation]) -> str:
    """AWS's wording: ``1 validation error detected: Value 'x' at 'callAs' failed to satisfy constraint: …``."""
    count = len(found)
    head = f"{count} validation error{'s' if count > 1 else ''} detected: "
    parts = []
    for item in found:
        shown = "null" if item.value is None else f"'{_show(item.value)}'"
        parts.append(f"Value {shown} at '{item.path}' failed to satisfy constraint: {item.constraint}")
    return head + "; ".join(parts)


def _modeled_validation_error(model: ServiceModel) -> tuple[str, int]:
    """A JSON/REST service's validation error: its model's ValidationException (code and status), if declared."""
    for shape in model.error_shapes:
        if shape.name in ("ValidationException", "InvalidParameterException", "InvalidRequestException"):
            error = shape.metadata.get("error") or {}
            return str(error.get("code", shape.name)), int(error.get("httpStatusCode", 400))
    return "ValidationException", 400
