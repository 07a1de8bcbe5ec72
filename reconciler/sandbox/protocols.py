"""AWS wire protocols (query, ec2, JSON 1.1) parsed and serialised from botocore's own service models.

Requests become ``(operation, params)`` with the input shape's member names; outputs and errors are written by walking
the output shape, so every element and key is named exactly as botocore expects to read it. No field name is written
by hand here. Members the world returns that its output shape does not know are dropped and remembered in
:data:`UNKNOWN_MEMBERS` (a contract test asserts it stays empty).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from reconciler.sandbox.api import AwsFault, SandboxWorld

log = logging.getLogger(__name__)

SERVICES = ("cloudformation", "organizations", "sts", "iam", "ec2", "s3")

# (service, shape path, member) triples the world returned but the output shape lacks.
UNKNOWN_MEMBERS: set[tuple[str, str, str]] = set()

_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()
_target_prefixes: dict[str, str] = {}
_query_versions: dict[str, str] = {}


@dataclass(frozen=True)
class WireRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class WireResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CredentialScope:
    access_key: str
    region: str
    service: str


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
    rest = [name for name in SERVICES if name not in _models]
    if not rest:
        return
    if background:
        threading.Thread(target=lambda: [_register(n) for n in rest], name="sandbox-models", daemon=True).start()
    else:
        for name in rest:
            _register(name)


def _register(name: str) -> None:
    model = service_model(name)
    prefix = model.metadata.get("targetPrefix")
    if prefix:
        _target_prefixes[prefix] = name
    if model.protocol in ("query", "ec2"):
        _query_versions[model.api_version] = name


# --- request identity -----------------------------------------------------------------------------------------

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")


def credential_scope(request: WireRequest) -> CredentialScope | None:
    """The caller's access key, region and service from the SigV4 Authorization header (or a presigned URL)."""
    auth = request.headers.get("authorization", "")
    match = _CREDENTIAL.search(auth)
    if match:
        return CredentialScope(match.group(1), match.group(2), match.group(3))
    presigned = request.query.get("X-Amz-Credential")
    if presigned:
        parts = presigned[0].split("/")
        if len(parts) >= 5:
            return CredentialScope(parts[0], parts[2], parts[3])
    return None


def _request_id() -> str:
    return str(uuid.uuid4())


# --- errors ---------------------------------------------------------------------------------------------------


def _wire_fault(model: ServiceModel, fault: AwsFault) -> tuple[str, int, bool]:
    """The wire code and HTTP status of a fault, per the service model when the model declares the error.

    The world may name an error by its botocore shape (``NoSuchEntityException``) or by its wire code
    (``NoSuchEntity``); the wire needs the code, with the status the model gives it."""
    table = _error_table(model)
    code, status, sender = fault.code, fault.status, fault.sender
    if code in table:
        code, modeled_status, sender = table[code]
        if modeled_status is not None:
            status = modeled_status
    return code, status, sender


_error_tables: dict[str, dict[str, tuple[str, int | None, bool]]] = {}


def _error_table(model: ServiceModel) -> dict[str, tuple[str, int | None, bool]]:
    table = _error_tables.get(model.service_name)
    if table is None:
        table = {}
        for shape in model.error_shapes:
            error = shape.metadata.get("error") or {}
            entry = (error.get("code", shape.name), error.get("httpStatusCode"), bool(error.get("senderFault", True)))
            table[shape.name] = entry
            table[entry[0]] = entry
        _error_tables[model.service_name] = table
    return table


def query_error(model: ServiceModel, fault: AwsFault) -> WireResponse:
    code, status, sender = _wire_fault(model, fault)
    body = (
        f'<ErrorResponse xmlns="{_namespace(model)}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(fault.message)}</Message></Error>"
        f"<RequestId>{_request_id()}</RequestId></ErrorResponse>"
    )
    return WireResponse(status, body.encode(), {"Content-Type": "text/xml"})


def ec2_error(model: ServiceModel, fault: AwsFault) -> WireResponse:
    code, status, _ = _wire_fault(model, fault)
    body = (
        f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(fault.message)}</Message>"
        f"</Error></Errors><RequestID>{_request_id()}</RequestID></Response>"
    )
    return WireResponse(status, body.encode(), {"Content-Type": "text/xml"})


def json_error(model: ServiceModel, fault: AwsFault) -> WireResponse:
    code, status, _ = _wire_fault(model, fault)
    body = json.dumps({"__type": code, "message": fault.message}).encode()
    return WireResponse(status, body, {"Content-Type": "application/x-amz-json-1.1",
                                       "x-amzn-RequestId": _request_id(), "x-amzn-ErrorType": code})


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
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
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


def _namespace(model: ServiceModel) -> str:
    return str(model.metadata.get("xmlNamespace")
               or f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
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


def xml_members(service: str, shape: Shape, value: dict[str, Any], out: list[str],
                skip_locations: bool = False) -> None:
    """Append the XML of a structure's members (not its own element) to ``out``."""
    members = shape.members
    for name, item in value.items():
        if item is None:
            continue
        member = members.get(name)
        if member is None:
            UNKNOWN_MEMBERS.add((service, shape.name, name))
            continue
        if skip_locations and "location" in member.serialization:
            continue
        tag = member.serialization.get("name", name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            item_tag = member.member.serialization.get("name", tag)
            for element in item:
                _xml_element(service, member.member, item_tag, element, out)
        else:
            _xml_element(service, member, tag, item, out)


def _xml_element(service: str, shape: Shape, tag: str, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    out.append(f"<{tag}>")
    if kind == "structure":
        xml_members(service, shape, value, out)
    elif kind == "list":
        item_tag = shape.member.serialization.get("name", "member")
        for element in value:
            _xml_element(service, shape.member, item_tag, element, out)
    elif kind == "map":
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        for key, element in value.items():
            out.append("<entry>")
            _xml_element(service, shape.key, key_tag, key, out)
            _xml_element(service, shape.value, value_tag, element, out)
            out.append("</entry>")
    else:
        out.append(_xml_text(shape, value))
    out.append(f"</{tag}>")


def query_response(model: ServiceModel, operation: OperationModel, output: dict[str, Any]) -> WireResponse:
    name = operation.name
    out = [f'<{name}Response xmlns="{_namespace(model)}">']
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        out.append(f"<{wrapper}>")
        xml_members(model.service_name, shape, output, out)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata></{name}Response>")
    return WireResponse(200, "".join(out).encode(), {"Content-Type": "text/xml"})


def ec2_response(model: ServiceModel, operation: OperationModel, output: dict[str, Any]) -> WireResponse:
    name = operation.name
    out = [f'<{name}Response xmlns="{_namespace(model)}"><requestId>{_request_id()}</requestId>']
    if operation.output_shape is not None:
        xml_members(model.service_name, operation.output_shape, output, out)
    out.append(f"</{name}Response>")
    return WireResponse(200, "".join(out).encode(), {"Content-Type": "text/xml;charset=UTF-8"})


# --- JSON -----------------------------------------------------------------------------------------------------


def _json_value(service: str, shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        out = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                UNKNOWN_MEMBERS.add((service, shape.name, name))
            elif item is not None:
                out[name] = _json_value(service, member, item)
        return out
    if kind == "list":
        return [_json_value(service, shape.member, element) for element in value]
    if kind == "map":
        return {key: _json_value(service, shape.value, element) for key, element in value.items()}
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


def _json_input(shape: Shape, value: Any) -> Any:
    """Turn JSON input values into the types botocore's client accepted (timestamps, blobs)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _json_input(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_json_input(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _json_input(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and value is not None:
        return _parse_timestamp(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def _call_world(world: SandboxWorld, service: str, operation: str, params: dict[str, Any], *, access_key: str,
                region: str) -> dict[str, Any]:
    """The world's answer; a sandbox bug becomes AWS's InternalFailure (500) in the caller's protocol."""
    try:
        return world.handle_aws(service, operation, params, access_key=access_key, region=region)
    except AwsFault:
        raise
    except Exception as exc:
        log.exception("sandbox world failed on %s:%s", service, operation)
        raise AwsFault("InternalFailure", "The request processing has failed because of an unknown error, "
                       f"exception or failure ({type(exc).__name__} in the sandbox).", 500, sender=False) from exc


def handle_json(world: SandboxWorld, request: WireRequest) -> WireResponse:
    """An ``X-Amz-Target`` JSON 1.1 call (Organizations)."""
    target = request.headers.get("x-amz-target", "")
    prefix, _, action = target.rpartition(".")
    service = _target_prefixes.get(prefix)
    if service is None:
        fault = AwsFault("UnknownOperationException", f"Unknown target {target}")
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        return WireResponse(400, body, {"Content-Type": "application/x-amz-json-1.1"})
    model = service_model(service)
    scope = credential_scope(request)
    try:
        try:
            operation = model.operation_model(action)
        except Exception as exc:
            raise AwsFault("UnknownOperationException", f"Unknown operation {action}") from exc
        try:
            raw = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise AwsFault("SerializationException", "Request body is not valid JSON") from exc
        params = _json_input(operation.input_shape, raw) if operation.input_shape is not None else {}
        output = _call_world(world, service, operation.name, params,
                             access_key=scope.access_key if scope else "",
                             region=scope.region if scope else "us-east-1")
    except AwsFault as fault:
        return json_error(model, fault)
    shape = operation.output_shape
    body = json.dumps(_json_value(service, shape, output) if shape is not None else {}).encode()
    return WireResponse(200, body, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": _request_id()})


def handle_query(world: SandboxWorld, service: str, request: WireRequest, *, access_key: str,
                 region: str) -> WireResponse:
    """A form-encoded query (CloudFormation, STS, IAM) or ec2 (EC2) protocol call."""
    if service not in SERVICES or service_model(service).protocol not in ("query", "ec2"):
        fault = AwsFault("UnknownService", f"The sandbox does not emulate the {service} service.")
        return query_error(service_model("sts"), fault)
    model = service_model(service)
    ec2 = model.protocol == "ec2"
    body = request.body
    if request.method == "GET" and not body:  # the query protocol allows GET with the form in the URL
        body = "&".join(f"{k}={v}" for k, values in request.query.items() for v in values).encode()
    try:
        operation, params = parse_query_request(model, body)
        output = _call_world(world, service, operation.name, params, access_key=access_key, region=region)
    except AwsFault as fault:
        return ec2_error(model, fault) if ec2 else query_error(model, fault)
    return ec2_response(model, operation, output) if ec2 else query_response(model, operation, output)


def handle_unsigned_query(world: SandboxWorld, request: WireRequest) -> WireResponse:
    """A query call without a signature: the service is told by its API ``Version``; the caller is management."""
    fields = dict(parse_qsl(request.body.decode(errors="replace")))
    warm_models(background=False)
    service = _query_versions.get(fields.get("Version", ""))
    if service is None:
        return query_error(service_model("sts"), AwsFault(
            "MissingAuthenticationToken", "Request is missing Authentication Token", 403))
    return handle_query(world, service, request, access_key="", region="us-east-1")


def http_date(value: datetime) -> str:
    """RFC 7231 date for headers (Last-Modified)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), usegmt=True)
