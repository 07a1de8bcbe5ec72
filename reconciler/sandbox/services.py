"""The AWS services the sandbox world answers, by botocore's service name: one handler each, in one registry.

The world looks a call's service up here and hands itself over as a ``WorldState``; no handler imports the world.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox.controltower import handle_controltower
from reconciler.sandbox.identity import handle_ec2, handle_iam, handle_sts
from reconciler.sandbox.organizations import handle_organizations
from reconciler.sandbox.policies import POLICY_OPERATIONS, handle_policies, root_shape
from reconciler.sandbox.stacksets_api import handle_cloudformation
from reconciler.sandbox.worldstate import WorldState

# (world, operation, params, caller account, access key, region) -> the operation's output shape as a dict.
AwsHandler = Callable[[WorldState, str, dict[str, Any], str, str, str], dict[str, Any]]


def _cloudformation(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
                    region: str) -> dict[str, Any]:
    return handle_cloudformation(world, operation, params, caller, region)


def _organizations(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
                   region: str) -> dict[str, Any]:
    if operation in POLICY_OPERATIONS and caller in world.org.accounts:
        return handle_policies(world.org, world.policies, operation, params, caller, world.empty_first_pages)
    result = handle_organizations(world.org, operation, params, caller, world.clock.now(), world.empty_first_pages)
    if operation == "ListRoots" and result.get("Roots"):
        result["Roots"] = [root_shape(world.org, world.policies)]
    return result


def _controltower(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
                  region: str) -> dict[str, Any]:
    return handle_controltower(world.landing_zone, operation, params, caller, world.org.management_account)


def _sts(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
         region: str) -> dict[str, Any]:
    return handle_sts(world, operation, params, caller, access_key)


def _iam(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
         region: str) -> dict[str, Any]:
    return handle_iam(world, operation, params, caller)


def _ec2(world: WorldState, operation: str, params: dict[str, Any], caller: str, access_key: str,
         region: str) -> dict[str, Any]:
    return handle_ec2(world, operation, params, caller)


AWS_SERVICES: dict[str, AwsHandler] = {
    "cloudformation": _cloudformation,
    "organizations": _organizations,
    "controltower": _controltower,
    "sts": _sts,
    "iam": _iam,
    "ec2": _ec2,
}
