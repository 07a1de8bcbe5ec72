"""World events for long runs: AWS credentials that expire mid-run, a Clumio API token revoked, S3 faults on the
state's keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState

DEFAULT_ACCESS_KEY = "sandbox"  # the key `sandbox env` hands out


def apply_credential_event(world: WorldState, name: str, args: dict[str, Any]) -> dict[str, Any]:
    if name == "expire-credentials":
        # access_key=K (default: the key `sandbox env` prints; "*" every key): every later call signed with it
        # answers ExpiredToken, as a role session past its DurationSeconds does.
        key = str(args.get("access_key") or DEFAULT_ACCESS_KEY)
        world.expired_keys.add(key)
        return {"event": name, "expired": sorted(world.expired_keys)}
    if name == "renew-credentials":
        # The CI job got fresh credentials: access_key=K (default: all) works again.
        key = args.get("access_key")
        if key:
            world.expired_keys.discard(str(key))
        else:
            world.expired_keys.clear()
        return {"event": name, "expired": sorted(world.expired_keys)}
    if name == "revoke-clumio-token":
        # token=T (default: the tenant's API token) answers 401 from now on; new_token=N is accepted instead.
        clumio = world.clumio
        token = str(args.get("token") or clumio.api_token)
        clumio.revoked_tokens.add(token)
        clumio.extra_tokens.discard(token)
        if args.get("new_token"):
            clumio.extra_tokens.add(str(args["new_token"]))
        return {"event": name, "revoked": len(clumio.revoked_tokens), "accepted_new": bool(args.get("new_token"))}
    if name == "s3-fault":
        return _s3_fault(world, args)
    raise AwsFault("ValidationError", f"unknown credential event {name!r}")


def _s3_fault(world: WorldState, args: dict[str, Any]) -> dict[str, Any]:
    """Add one S3 fault (see reconciler.sandbox.s3_faults), or ``clear=true`` to remove them all."""
    from reconciler.sandbox.s3_faults import validate

    if args.get("clear"):
        world.s3_faults.clear()
    else:
        try:
            world.s3_faults.append(validate(args))
        except ValueError as exc:
            raise AwsFault("ValidationError", str(exc)) from None
    return {"event": "s3-fault", "faults": [dict(f) for f in world.s3_faults],
            "hits": getattr(world, "s3_fault_hits", 0)}
