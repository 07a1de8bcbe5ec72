"""The sandbox's own control API under ``/_sandbox/``: status, world events, environment, shutdown.

``GET /_sandbox/status`` → the world's status; ``POST /_sandbox/events/{name}`` with a JSON object of arguments →
what the event did; ``GET /_sandbox/env`` → the environment that points clients here; ``POST /_sandbox/shutdown``
stops the server after answering; ``POST /_sandbox/clock/advance`` with ``{"seconds": N}`` skips simulated time.
Errors answer ``{"error": {"code", "message"}}`` with a 4xx status.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Protocol

from reconciler.sandbox.api import AwsFault, SandboxWorld
from reconciler.sandbox.protocols import WireRequest, WireResponse


class ControlledServer(Protocol):
    """What the control routes need from the HTTP server (server.SandboxHTTPServer is one)."""

    world: SandboxWorld
    env: dict[str, str]

    def request_shutdown(self) -> None: ...


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def json_response(status: int, payload: Any) -> WireResponse:
    body = json.dumps(payload, default=_default, sort_keys=True).encode()
    return WireResponse(status, body, {"Content-Type": "application/json"})


def _error(status: int, code: str, message: str) -> WireResponse:
    return json_response(status, {"error": {"code": code, "message": message}})


def handle(server: ControlledServer, request: WireRequest) -> WireResponse:
    world = server.world
    route = request.path[len("/_sandbox/"):].strip("/")
    method = request.method
    if route == "status" and method == "GET":
        return json_response(200, world.status())
    if route == "env" and method == "GET":
        return json_response(200, server.env)
    if route == "shutdown" and method == "POST":
        server.request_shutdown()
        return json_response(200, {"stopping": True})
    if route == "clock/advance" and method == "POST":
        return _advance(world, request)
    if route.startswith("events/") and method == "POST":
        name = route[len("events/"):]
        try:
            args = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "BadRequest", "the event arguments must be a JSON object")
        if not isinstance(args, dict):
            return _error(400, "BadRequest", "the event arguments must be a JSON object")
        try:
            return json_response(200, world.apply_event(name, args))
        except AwsFault as fault:
            return _error(fault.status if 400 <= fault.status < 500 else 400, fault.code, fault.message)
        except (ValueError, TypeError, KeyError) as exc:  # arguments of the wrong type or shape
            return _error(400, "ValidationError", f"bad arguments for event {name}: {type(exc).__name__}: {exc}")
    return _error(404, "NotFound", f"no sandbox control route {method} /_sandbox/{route}")


def _advance(world: Any, request: WireRequest) -> WireResponse:
    """Skip simulated time forward (``{"seconds": N}``), for demos that would rather not wait."""
    try:
        seconds = float(json.loads(request.body or b"{}").get("seconds", 0))
    except (ValueError, AttributeError):
        return _error(400, "BadRequest", 'the body must be {"seconds": N}')
    advance = getattr(world.clock, "advance", None)
    if advance is None or seconds < 0:
        return _error(400, "BadRequest", "this sandbox's clock cannot be advanced by that much")
    with world.lock:
        now = advance(seconds)
    return json_response(200, {"now": now if now is not None else world.clock.now()})
