"""Values to and from AWS wire text, walked from botocore's service models: query/ec2 form decoding, XML and JSON
output writing. No field name is written by hand: every tag and key comes from a shape.

Members a world returns that the output shape lacks are dropped and remembered in :data:`UNKNOWN_MEMBERS`; members
the shape requires that the world left out are remembered in :data:`MISSING_MEMBERS` (contract tests assert both
stay empty for the real World over every served operation).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from reconciler.sandbox.api import AwsFault

SERVICES = ("cloudformation", "organizations", "sts", "iam", "ec2", "s3")

# (service, shape name, member) triples the world returned but the output shape lacks.
UNKNOWN_MEMBERS: set[tuple[str, str, str]] = set()
# (service, shape name, member) triples the output shape requires but the world left out.
MISSING_MEMBERS: set[tuple[str, str, str]] = set()

_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()
TARGET_PREFIXES: dict[str, str] = {}
QUERY_VERSIONS: dict[str, str] = {}
_registered: set[str] = set()


def service_model(name: str) -> ServiceModel:
    """botocore's model for ``name``, loaded once per process (loading costs tens of milliseconds)."""
    model = _models.get(name)
    if model is None:
        with _models_lock:
            model = _models.get(name)
            if model is None:
                import botocore.session

                model = botocore.session.get_session().get_service_model(name)
                _models[name] = model
    return model


def warm_models(background: bool = True) -> None:
    """Load the models every call needs now (CloudFormation, Organizations, STS) and the rest (IAM, S3, and EC2's
    large one) on a background thread, so a sandbox answers its first call quickly."""
    for name in ("cloudformation", "organizations", "sts"):
        _register(name)
    rest = [name for name in SERVICES if name not in _registered]
    if not rest:
        return
    if background:
        threading.Thread(target=_register_all, args=(rest,), name="sandbox-models", daemon=True).start()
    else:
        _register_all(rest)


def _register_all(names: list[str]) -> None:
    for name in names:
        _register(name)


def _register(name: str) -> None:
    model = service_model(name)
    prefix = model.metadata.get("targetPrefix")
    if prefix:
        TARGET_PREFIXES[prefix] = name
    if model.protocol in ("query", "ec2"):
        QUERY_VERSIONS[model.api_version] = name
    _registered.add(name)


# --- query / ec2 requests -------------------------------------------------------------------------------------

_VALUE = ""  # key under which a trie node keeps its own value (query keys never contain an empty segment)


def _trie(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        node = root
        for part in key.split("."):
            node = node.setdefault(part, {})
        node[_VALUE] = value
    return root


def _query_member_name(member: Shape, name: str, ec2: bool) -> str:
    if ec2:
        if "queryName" in member.serialization:
            return str(member.serialization["queryName"])
        located = member.serialization.get("name")
        return located[0].upper() + located[1:] if located else name
    return str(member.serialization.get("name", name))


def _parse_query_node(shape: Shape, node: dict[str, Any], ec2: bool) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            child = node.get(_query_member_name(member, name, ec2))
            if child is not None:
                out[name] = _parse_query_node(member, child, ec2)
        return out
    if kind == "list":
        if ec2 or shape.serialization.get("flattened"):
            items = node
        else:
            items = node.get(shape.member.serialization.get("name", "member"), {})
        indexes = sorted(int(k) for k in items if k.isdigit())
        return [_parse_query_node(shape.member, items[str(i)], ec2) for i in indexes]
    if kind == "map":
        entries = node if shape.serialization.get("flattened") else node.get("entry", {})
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result = {}
        for index in sorted((k for k in entries if k.isdigit()), key=int):
            entry = entries[index]
            result[entry[key_name][_VALUE]] = _parse_query_node(shape.value, entry.get(value_name, {}), ec2)
        return result
    return _scalar(shape, node.get(_VALUE, ""))


def _scalar(shape: Shape, text: str) -> Any:
    """The typed value of a query string; text that is not of the shape's type stays text, so the validator
    answers it as AWS does (a 400, never a sandbox failure)."""
    try:
        return _typed_scalar(shape, text)
    except (ValueError, TypeError):
        return text


def _typed_scalar(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "timestamp":
        return _parse_timestamp(text)
    if kind == "blob":
        return base64.b64decode(text)
    return text


def _parse_timestamp(text: str | float) -> datetime:
    if isinstance(text, int | float) or re.fullmatch(r"\d+(\.\d+)?", str(text)):
        return datetime.fromtimestamp(float(text), UTC)
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_query_request(model: ServiceModel, body: bytes) -> tuple[OperationModel, dict[str, Any]]:
    """Decode a form-encoded query/ec2 request into (operation model, input dict). Raises AwsFault."""
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    fields = dict(pairs)
    action = fields.get("Action", "")
    try:
        operation = model.operation_model(action)
    except Exception as exc:
        raise AwsFault("InvalidAction", f"The action {action} is not valid for this web service.") from exc
    shape = operation.input_shape
    if shape is None:
        return operation, {}
    params = _parse_query_node(shape, _trie([(k, v) for k, v in pairs if k not in ("Action", "Version")]),
                               model.protocol == "ec2")
    return operation, params


# --- XML outputs ----------------------------------------------------------------------------------------------


def xml_namespace(model: ServiceModel) -> str:
    return str(model.metadata.get("xmlNamespace")
               or f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        stamp: str = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        return f"{stamp}{value.microsecond // 1000:03d}Z"
    return str(value)


def _xml_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _iso(value)
    if kind == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    return escape(str(value))


Writer = Callable[[Any, list[str]], None]
_struct_writers: dict[tuple[str, str], Writer] = {}  # published: compiled completely
_compiling: dict[tuple[str, str], Writer] = {}
_compile_lock = threading.RLock()


def xml_members(service: str, shape: Shape, value: dict[str, Any], out: list[str],
                skip_locations: bool = False) -> None:
    """Append the XML of a structure's members (not its own element) to ``out``.

    Each shape's writer is compiled once from the model (tags, list item names, scalar kinds), which keeps a
    100-row ListStackInstances page to a few milliseconds."""
    if skip_locations:
        members = shape.members
        value = {k: v for k, v in value.items() if k not in members or "location" not in members[k].serialization}
    writer = _struct_writers.get((service, shape.name))
    if writer is None:
        with _compile_lock:
            writer = _struct_writer(service, shape)
            _struct_writers.update(_compiling)
            _compiling.clear()
    writer(value, out)


def _struct_writer(service: str, shape: Shape) -> Writer:
    key = (service, shape.name)
    known = _struct_writers.get(key) or _compiling.get(key)
    if known is not None:
        return known
    fields: dict[str, Writer] = {}
    unknown = UNKNOWN_MEMBERS
    required = _required_body_members(service, shape)

    def write_structure(value: dict[str, Any], out: list[str]) -> None:
        for name in required:
            if value.get(name) is None:
                MISSING_MEMBERS.add((service, shape.name, name))
        for name, item in value.items():
            if item is None:
                continue
            field_writer = fields.get(name)
            if field_writer is None:
                unknown.add((service, shape.name, name))
                continue
            field_writer(item, out)

    _compiling[key] = write_structure  # before the members: shapes may be recursive
    for name, member in shape.members.items():
        tag = member.serialization.get("name", name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            item_tag = member.member.serialization.get("name", tag)
            fields[name] = _repeat(_element_writer(service, member.member, item_tag))
        else:
            fields[name] = _element_writer(service, member, tag)
    return write_structure


_required: dict[tuple[str, str], tuple[str, ...]] = {}


def _required_body_members(service: str, shape: Shape) -> tuple[str, ...]:
    """Members the shape requires in the body (header and status members travel elsewhere), looked up once."""
    key = (service, shape.name)
    found = _required.get(key)
    if found is None:
        members = shape.members
        found = tuple(name for name in shape.required_members
                      if name in members and "location" not in members[name].serialization)
        _required[key] = found
    return found


def _repeat(item_writer: Writer) -> Writer:
    def write_items(value: list[Any], out: list[str]) -> None:
        for element in value:
            item_writer(element, out)

    return write_items


def _element_writer(service: str, shape: Shape, tag: str) -> Writer:
    """Writes ``<tag>content</tag>`` for a value of ``shape``."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    kind = shape.type_name
    if kind in ("string", "integer", "long"):
        def write_text(value: Any, out: list[str]) -> None:
            out.append(f"{opening}{escape(str(value))}{closing}")

        return write_text
    content = _content_writer(service, shape)

    def write_element(value: Any, out: list[str]) -> None:
        out.append(opening)
        content(value, out)
        out.append(closing)

    return write_element


def _content_writer(service: str, shape: Shape) -> Writer:
    kind = shape.type_name
    if kind == "structure":
        return _struct_writer(service, shape)
    if kind == "list":
        return _repeat(_element_writer(service, shape.member, shape.member.serialization.get("name", "member")))
    if kind == "map":
        key_writer = _element_writer(service, shape.key, shape.key.serialization.get("name", "key"))
        value_writer = _element_writer(service, shape.value, shape.value.serialization.get("name", "value"))

        def write_map(value: dict[str, Any], out: list[str]) -> None:
            for key, element in value.items():
                out.append("<entry>")
                key_writer(key, out)
                value_writer(element, out)
                out.append("</entry>")

        return write_map

    def write_scalar(value: Any, out: list[str]) -> None:
        out.append(_xml_text(shape, value))

    return write_scalar


# --- JSON -----------------------------------------------------------------------------------------------------


def json_output(service: str, shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        for name in _required_body_members(service, shape):
            if value.get(name) is None:
                MISSING_MEMBERS.add((service, shape.name, name))
        out = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                UNKNOWN_MEMBERS.add((service, shape.name, name))
            elif item is not None:
                out[name] = json_output(service, member, item)
        return out
    if kind == "list":
        return [json_output(service, shape.member, element) for element in value]
    if kind == "map":
        return {key: json_output(service, shape.value, element) for key, element in value.items()}
    if kind == "timestamp":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.timestamp()
        return value
    if kind == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    return value


def json_input(shape: Shape, value: Any) -> Any:
    """Turn JSON input values into the types botocore's client accepted (timestamps, blobs)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: json_input(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [json_input(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: json_input(shape.value, v) for k, v in value.items()}
    try:
        if kind == "timestamp" and isinstance(value, str | int | float) and not isinstance(value, bool):
            return _parse_timestamp(value)
        if kind == "blob" and isinstance(value, str):
            return base64.b64decode(value)
    except (ValueError, TypeError):
        pass  # left as sent: the validator answers the wrong type
    return value


def http_date(value: datetime) -> str:
    """RFC 7231 date for headers (Last-Modified)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), usegmt=True)
