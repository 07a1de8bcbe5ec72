"""AWS wire protocols (query, ec2, JSON 1.1): who is calling, which operation, and the response or error body.

Requests become ``(operation, params)`` with the input shape's member names; outputs and errors are written from
botocore's service models (see ``codec``), so every element and key is named exactly as botocore expects to read it.
Error bodies look like each protocol's real AWS errors, so botocore raises ClientError with the right code and status.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel

from reconciler.sandbox import codec, validation
from reconciler.sandbox.api import AwsFault, SandboxWorld
from reconciler.sandbox.codec import (  # re-exported: the wire layer's one import
    MISSING_MEMBERS,
    SERVICES,
    UNKNOWN_MEMBERS,
    http_date,
    parse_query_request,
    service_model,
    warm_models,
    xml_members,
)

__all__ = ["MISSING_MEMBERS", "SERVICES", "UNKNOWN_MEMBERS", "CredentialScope", "WireRequest", "WireResponse",
           "credential_scope", "handle_json", "handle_query", "handle_unsigned_query", "http_date", "service_model",
           "warm_models", "xml_members"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request as the wire layer sees it (query string parsed, header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class WireResponse:
    """What the server writes back; ``Content-Length`` is added unless given (HEAD keeps the object's)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CredentialScope:
    """Who calls and where, from the SigV4 credential scope: ``KEY/DATE/REGION/SERVICE/aws4_request``."""

    access_key: str
    region: str
    service: str


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
        f'<ErrorResponse xmlns="{codec.xml_namespace(model)}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
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
    body = json.dumps({"__type": code, "message": fault.message, **fault.fields}).encode()
    return WireResponse(status, body, {"Content-Type": "application/x-amz-json-1.1",
                                       "x-amzn-RequestId": _request_id(), "x-amzn-ErrorType": code})


def query_response(model: ServiceModel, operation: OperationModel, output: dict[str, Any]) -> WireResponse:
    name = operation.name
    out = [f'<{name}Response xmlns="{codec.xml_namespace(model)}">']
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
    out = [f'<{name}Response xmlns="{codec.xml_namespace(model)}"><requestId>{_request_id()}</requestId>']
    if operation.output_shape is not None:
        xml_members(model.service_name, operation.output_shape, output, out)
    out.append(f"</{name}Response>")
    return WireResponse(200, "".join(out).encode(), {"Content-Type": "text/xml;charset=UTF-8"})


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
    service = codec.TARGET_PREFIXES.get(prefix)
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
        if not isinstance(raw, dict):
            raise AwsFault("SerializationException", "Request body must be a JSON object")
        params = codec.json_input(operation.input_shape, raw) if operation.input_shape is not None else {}
        validation.validate(model, operation, params)
        output = _call_world(world, service, operation.name, params,
                             access_key=scope.access_key if scope else "",
                             region=scope.region if scope else "us-east-1")
    except AwsFault as fault:
        return json_error(model, fault)
    shape = operation.output_shape
    body = json.dumps(codec.json_output(service, shape, output) if shape is not None else {}).encode()
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
        body = urlencode([(k, v) for k, values in request.query.items() for v in values]).encode()
    try:
        operation, params = parse_query_request(model, body)
        validation.validate(model, operation, params)
        output = _call_world(world, service, operation.name, params, access_key=access_key, region=region)
    except AwsFault as fault:
        return ec2_error(model, fault) if ec2 else query_error(model, fault)
    return ec2_response(model, operation, output) if ec2 else query_response(model, operation, output)


def handle_unsigned_query(world: SandboxWorld, request: WireRequest) -> WireResponse:
    """A query call without a signature: the service is told by its API ``Version``; the caller is management."""
    fields = dict(parse_qsl(request.body.decode(errors="replace")))
    warm_models(background=False)
    service = codec.QUERY_VERSIONS.get(fields.get("Version", ""))
    if service is None:
        return query_error(service_model("sts"), AwsFault(
            "MissingAuthenticationToken", "Request is missing Authentication Token", 403))
    return handle_query(world, service, request, access_key="", region="us-east-1")


