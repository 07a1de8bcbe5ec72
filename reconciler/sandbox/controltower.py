"""The sandbox's AWS Control Tower: one optional landing zone (world file ``guardrails.control_tower``), answered
over Control Tower's REST-JSON protocol in botocore's shapes (ListLandingZones, GetLandingZone)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox import codec, validation
from reconciler.sandbox.api import AwsFault, SandboxWorld

SERVICE = "controltower"
_STATUS = {"AccessDeniedException": 403, "ResourceNotFoundException": 404, "ValidationException": 400,
           "ThrottlingException": 429, "InternalServerException": 500}


@dataclass(slots=True)
class LandingZoneState:
    arn: str
    version: str
    status: str
    governed_regions: list[str]
    latest_version: str


def seed_landing_zone(spec: dict[str, Any] | None, home_region: str, management: str) -> LandingZoneState | None:
    if not spec:
        return None
    lz_id = uuid.uuid5(uuid.NAMESPACE_URL, f"controltower/{management}").hex[:16].upper()
    return LandingZoneState(
        arn=f"arn:aws:controltower:{spec.get('home_region', home_region)}:{management}:landingzone/{lz_id}",
        version=str(spec.get("version", "3.3")), status=str(spec.get("status", "ACTIVE")),
        governed_regions=sorted(spec.get("governed_regions") or [home_region]),
        latest_version=str(spec.get("latest_version", spec.get("version", "3.3"))))


def handle_controltower(zone: LandingZoneState | None, operation: str, params: dict[str, Any], caller: str,
                        management: str) -> dict[str, Any]:
    """One Control Tower call; only the management account may make it."""
    if caller != management:
        raise AwsFault("AccessDeniedException", "User is not authorized to perform this action.", 403)
    if operation == "ListLandingZones":
        return {"landingZones": [{"arn": zone.arn}] if zone is not None else []}
    if operation == "GetLandingZone":
        if zone is None or params.get("landingZoneIdentifier") != zone.arn:
            raise AwsFault("ResourceNotFoundException", "The requested resource does not exist.", 404)
        return {"landingZone": {
            "version": zone.version, "arn": zone.arn, "status": zone.status,
            "latestAvailableVersion": zone.latest_version, "driftStatus": {"status": "IN_SYNC"},
            "manifest": {"governedRegions": list(zone.governed_regions),
                         "organizationStructure": {"security": {"name": "Security"},
                                                   "sandbox": {"name": "Sandbox"}},
                         "centralizedLogging": {"enabled": True}, "securityRoles": {},
                         "accessManagement": {"enabled": True}}}}
    raise AwsFault("ValidationException", f"The sandbox does not implement controltower:{operation}.")


def _operation_for(path: str) -> str | None:
    model = codec.service_model(SERVICE)
    for name in model.operation_names:
        if model.operation_model(name).http.get("requestUri", "").rstrip("/") == path.rstrip("/"):
            return str(name)
    return None


def _json_out(shape: Any, value: Any) -> Any:
    """codec.json_output, except that document members (the manifest) are written as they are."""
    if shape.type_name == "structure" and shape.metadata.get("document"):
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                codec.UNKNOWN_MEMBERS.add((SERVICE, shape.name, name))
            elif item is not None:
                out[name] = _json_out(member, item)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_json_out(shape.member, v) for v in value]
    return codec.json_output(SERVICE, shape, value)


def _error(fault: AwsFault) -> tuple[int, bytes, dict[str, str]]:
    status = _STATUS.get(fault.code, fault.status)
    body = json.dumps({"message": fault.message}).encode()
    return status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": fault.code,
                          "x-amzn-RequestId": str(uuid.uuid4())}


def handle_wire(world: SandboxWorld, path: str, body: bytes, *, access_key: str,
                region: str) -> tuple[int, bytes, dict[str, str]]:
    """A REST-JSON Control Tower request (POST /list-landingzones …) → (status, body, headers)."""
    name = _operation_for(path)
    if name is None:
        return _error(AwsFault("UnknownOperationException", f"No Control Tower operation at {path}", 404))
    operation = codec.service_model(SERVICE).operation_model(name)
    try:
        try:
            raw = json.loads(body or b"{}")
        except ValueError:
            raise AwsFault("SerializationException", "Request body is not valid JSON") from None
        params = codec.json_input(operation.input_shape, raw) if operation.input_shape is not None else {}
        validation.validate(codec.service_model(SERVICE), operation, params)  # before any logic, as on AWS
        output = world.handle_aws(SERVICE, name, params, access_key=access_key, region=region)
    except AwsFault as fault:
        return _error(fault)
    except Exception as exc:  # a sandbox bug answers as AWS's 500, as the other protocols do
        return _error(AwsFault("InternalServerException", f"{type(exc).__name__} in the sandbox", 500, False))
    shape = operation.output_shape
    data = _json_out(shape, output) if shape is not None else {}
    return 200, json.dumps(data).encode(), {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
