"""Deployment targets of StackSet calls: regions, accounts and OUs expanded as AWS does (aws-stacksets.md §A3)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.stacksets import StackSet

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState

OU_RE = re.compile(r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")
MAX_OUS_PER_CALL = 50  # aws-stacksets.md §A3 / §A10


def resolve_regions(world: WorldState, params: dict[str, Any], required: bool) -> list[str]:
    regions = list(dict.fromkeys(params.get("Regions") or []))
    if required and not regions:
        raise AwsFault("ValidationError", "Regions should not be empty")
    for region in regions:
        if region not in world.enabled_regions:
            raise AwsFault("ValidationError", f"Region {region} is not enabled for this account "
                                              f"(enabled: {', '.join(world.enabled_regions)})")
    return regions


def resolve_accounts(world: WorldState, stack_set: StackSet, params: dict[str, Any], call: str
                      ) -> list[tuple[str, str | None]]:
    """(account, named OU) pairs a Create/Update/Delete call targets, with AWS's validation rules (§A3)."""
    targets = params.get("DeploymentTargets")
    accounts = params.get("Accounts")
    if targets is not None and targets.get("AccountsUrl"):
        raise AwsFault("ValidationError", "The sandbox does not read AccountsUrl; list the Accounts in the call")
    if targets is not None and accounts is not None:
        raise AwsFault("ValidationError", "Accounts and DeploymentTargets are mutually exclusive")
    if not stack_set.service_managed:
        return _self_managed_accounts(targets, accounts)
    ous = list(dict.fromkeys((targets or {}).get("OrganizationalUnitIds") or []))
    if accounts is not None or not ous:
        raise AwsFault("ValidationError", "StackSets with SERVICE_MANAGED permission model can only have "
                                          "OrganizationalUnit as target")
    if len(ous) > MAX_OUS_PER_CALL:
        raise AwsFault("ValidationError", f"The number of OrganizationalUnitIds ({len(ous)}) exceeds the limit of "
                                          f"{MAX_OUS_PER_CALL} per operation")
    org = world.org
    for ou in ous:
        if not OU_RE.match(ou):
            raise AwsFault("ValidationError", f"1 validation error detected: Value '{ou}' at "
                                              f"'deploymentTargets.organizationalUnitIds' failed to satisfy "
                                              f"constraint: Member must satisfy regular expression pattern: "
                                              f"^(ou-[a-z0-9]{{4,32}}-[a-z0-9]{{8,32}}|r-[a-z0-9]{{4,32}})$")
        if ou not in org.units:
            raise AwsFault("ValidationError", f"Organizational unit {ou} does not exist in the organization")
    listed = list(dict.fromkeys((targets or {}).get("Accounts") or []))
    filter_type = (targets or {}).get("AccountFilterType")
    if call == "create":
        if filter_type == "UNION":
            raise AwsFault("ValidationError", "AccountFilterType UNION is not supported for CreateStackInstances")
        if listed and filter_type is None:
            raise AwsFault("ValidationError", "AccountFilterType should be specified when both "
                                              "OrganizationalUnitIds and Accounts are provided")
    filter_type = filter_type or ("NONE" if call == "create" else "UNION")
    if listed and filter_type == "NONE":
        raise AwsFault("ValidationError", "Accounts cannot be specified with AccountFilterType NONE")
    chosen: dict[str, str | None] = {}
    for ou in ous:
        for account in org.accounts_under(ou):
            if account == org.management_account:
                continue  # StackSets never deploy to the management account (§A1)
            if filter_type == "INTERSECTION" and account not in listed:
                continue
            if filter_type == "DIFFERENCE" and account in listed:
                continue
            chosen.setdefault(account, _nearest(world, account, ous))
    if filter_type == "UNION":
        for account in listed:
            if account != org.management_account and account in org.accounts:
                chosen.setdefault(account, _nearest(world, account, ous))
    return sorted(chosen.items())


def _self_managed_accounts(targets: dict[str, Any] | None, accounts: list[str] | None
                           ) -> list[tuple[str, str | None]]:
    """The accounts a SELF_MANAGED stack set's call targets (accounts only, no OUs)."""
    if targets is not None and targets.get("OrganizationalUnitIds"):
        raise AwsFault("ValidationError", "StackSets with SELF_MANAGED permission model can only have "
                                          "accounts as target")
    listed = accounts if accounts is not None else (targets or {}).get("Accounts") or []
    if not listed:
        raise AwsFault("ValidationError", "Accounts should not be empty")
    for account in listed:
        if not re.fullmatch(r"[0-9]{12}", account):
            raise AwsFault("ValidationError", f"Account {account} is not a valid 12-digit account id")
    return [(a, None) for a in dict.fromkeys(listed)]


def _nearest(world: WorldState, account: str, named: list[str]) -> str | None:
    """The OU named in the targets that holds the account, nearest first (§A7: possibly an ancestor)."""
    parent = world.org.accounts[account].parent_id
    for node in world.org.ancestors(parent):
        if node in named:
            return node
    return None
