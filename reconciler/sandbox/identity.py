"""STS, IAM and EC2 calls of the sandbox: who the caller is, which roles exist, which regions are enabled."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.regions import ALL_REGIONS

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size].upper()


EXPIRED_MESSAGE = "The security token included in the request is expired"


def check_credentials(world: WorldState, access_key: str, service: str) -> None:
    """ExpiredToken for a key the ``expire-credentials`` event expired (every key when ``*`` is expired), as AWS
    answers a session that outlived its DurationSeconds; JSON-protocol services name it ExpiredTokenException."""
    expired = getattr(world, "expired_keys", None)
    if not expired or (access_key not in expired and "*" not in expired):
        return
    code = "ExpiredTokenException" if service == "organizations" else "ExpiredToken"
    raise AwsFault(code, EXPIRED_MESSAGE, 400)


def handle_sts(world: WorldState, operation: str, params: dict[str, Any], caller: str,
               access_key: str) -> dict[str, Any]:
    if operation == "GetCallerIdentity":
        issued = world.access_keys.get(access_key)
        if issued is not None:
            acting, role, session = issued
            return {"UserId": f"AROA{_digest(acting + role, 17)}:{session}", "Account": acting,
                    "Arn": f"arn:aws:sts::{acting}:assumed-role/{role}/{session}"}
        return {"UserId": f"AIDA{_digest(caller, 17)}", "Account": caller,
                "Arn": f"arn:aws:iam::{caller}:user/sandbox-admin"}
    if operation == "AssumeRole":
        arn = str(params["RoleArn"])
        parts = arn.split(":")
        if len(parts) != 6 or not parts[5].startswith("role/"):
            raise AwsFault("ValidationError", f"{arn} is invalid")
        account_id, role = parts[4], parts[5].rsplit("/", 1)[-1]
        account = world.org.accounts.get(account_id)
        if account is None or account.state != "ACTIVE" or (account.explicit_roles and role not in account.roles):
            raise AwsFault("AccessDenied", f"User: arn:aws:iam::{caller}:user/sandbox-admin is not authorized to "
                                           f"perform: sts:AssumeRole on resource: {arn}", 403)
        session = str(params.get("RoleSessionName", "session"))
        key = f"ASIASBX{account_id}{_digest(session + str(len(world.access_keys)), 1)}"
        world.access_keys[key] = (account_id, role, session)
        expires = world.clock.now() + timedelta(seconds=int(params.get("DurationSeconds") or 3600))
        return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": _digest(key, 40).lower(),
                                "SessionToken": "sandbox-session-" + _digest(key + session, 32).lower(),
                                "Expiration": expires},
                "AssumedRoleUser": {"AssumedRoleId": f"AROA{_digest(account_id + role, 17)}:{session}",
                                    "Arn": f"arn:aws:sts::{account_id}:assumed-role/{role}/{session}"}}
    raise AwsFault("InvalidAction", f"The sandbox does not implement sts:{operation}.")


def handle_iam(world: WorldState, operation: str, params: dict[str, Any], caller: str) -> dict[str, Any]:
    account = world.org.accounts.get(caller)
    if operation == "GetRole":
        name = str(params["RoleName"])
        if account is None or name not in account.roles:
            raise AwsFault("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
        return {"Role": {"Path": "/", "RoleName": name, "RoleId": f"AROA{_digest(caller + name, 17)}",
                         "Arn": f"arn:aws:iam::{caller}:role/{name}", "CreateDate": world.org.created,
                         "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D"}}
    raise AwsFault("InvalidAction", f"The sandbox does not implement iam:{operation}.")


def handle_ec2(world: WorldState, operation: str, params: dict[str, Any], caller: str) -> dict[str, Any]:
    if operation == "DescribeRegions":
        names = set(params.get("RegionNames") or [])
        regions = ALL_REGIONS if params.get("AllRegions") else world.enabled_regions
        out = []
        for region in sorted(regions):
            if names and region not in names:
                continue
            status = "opt-in-not-required" if region in world.enabled_regions else "not-opted-in"
            out.append({"RegionName": region, "Endpoint": f"ec2.{region}.amazonaws.com", "OptInStatus": status})
        return {"Regions": out}
    raise AwsFault("InvalidAction", f"The sandbox does not implement ec2:{operation}.")
