"""The environment settings the tool reads, parsed once into one typed object (pure: the caller passes the
environment).

A variable that is unset or empty takes its default; any other value must be a positive number of seconds, or the
run stops with one ``error:`` line naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.core.errors import ReconcilerError

POLL_ENV = "CLUMIO_ORG_POLL_SECONDS"
POLL_MAX_ENV = "CLUMIO_ORG_POLL_MAX_SECONDS"
WAIT_ENV = "CLUMIO_ORG_WAIT_SECONDS"
HEARTBEAT_ENV = "CLUMIO_ORG_HEARTBEAT_SECONDS"

DEFAULT_POLL_SECONDS = 10.0
# How long to wait for an operation we did not start (a colleague's, or auto-deployment) before giving up:
# terraform-provider-aws #28675 failed after ~50 minutes, so the bound is generous and configurable.
DEFAULT_WAIT_SECONDS = 3 * 3600.0
DEFAULT_HEARTBEAT_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    """``poll_seconds``: first interval between polls of a running operation or detection (apply and drift alike);
    ``poll_max_seconds``: the cap the intervals grow to (default 6× poll, never below poll); ``wait_seconds``: the
    bound on waiting out an operation clumio-org did not start; ``heartbeat_seconds``: how often a CI log hears
    from each running operation."""

    poll_seconds: float = DEFAULT_POLL_SECONDS
    poll_max_seconds: float = DEFAULT_POLL_SECONDS * 6
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ReconcilerError(f"{name}={raw!r} is not a positive number of seconds",
                          hint=f"set {name} to a number of seconds such as {default:g}, or unset it for the default")
    return value


def parse_settings(env: Mapping[str, str]) -> Settings:
    """The settings ``env`` (``os.environ``) asks for; a bad value raises a ReconcilerError naming the variable."""
    poll = _seconds(env, POLL_ENV, DEFAULT_POLL_SECONDS)
    return Settings(
        poll_seconds=poll,
        poll_max_seconds=max(poll, _seconds(env, POLL_MAX_ENV, poll * 6)),
        wait_seconds=_seconds(env, WAIT_ENV, DEFAULT_WAIT_SECONDS),
        heartbeat_seconds=_seconds(env, HEARTBEAT_ENV, DEFAULT_HEARTBEAT_SECONDS),
    )
