"""What already exists when a world starts: StackSets (world file ``stacksets.existing``), deployed and connected,
and Clumio connections made outside any StackSet (``clumio.connections``: a stack per account, or none for
Terraform's module; docs/reference/brownfield.md §3)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from reconciler.core.errors import ConfigError
from reconciler.sandbox.instances import StackInstance
from reconciler.sandbox.operations import SUSPENDED_REASON
from reconciler.sandbox.stacksets import StackSet, new_stack_set_id
from reconciler.sandbox.template import parse_template, render_clumio_template

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState


def seed_existing_stack_sets(world: WorldState, entries: list[dict[str, Any]]) -> None:
    org = world.org
    owner = org.management_account
    created = world.clock.now()
    # Deployed "a while ago": already connected when the world starts.
    connected_since = created - timedelta(seconds=world.connect_seconds + 1)
    for entry in entries:
        region = entry.get("region", "us-east-1")
        version = entry.get("template_version", world.clumio.current)
        body = render_clumio_template(version)
        template = parse_template(body)
        params = {**(entry.get("parameters") or {}), "ClumioToken": entry.get("clumio_token", world.clumio.token),
                  "RoleExternalId": entry.get("role_external_id", world.clumio.external_id)}
        # A StackSet made in the console carries the pair the portal issued then; Clumio still accepts it.
        world.clumio.issued.add((params["ClumioToken"], params["RoleExternalId"]))
        stack_set = StackSet(
            entry["name"], new_stack_set_id(entry["name"], owner, region, created), owner, region,
            entry.get("description", "Clumio organization connection"), body, template, params,
            list(entry.get("capabilities") or ["CAPABILITY_NAMED_IAM"]), [],
            "SERVICE_MANAGED",
            {"Enabled": entry.get("auto_deployment", True),
             "RetainStacksOnAccountRemoval": entry.get("retain_stacks_on_account_removal", False)},
            bool(entry.get("managed_execution", False)), None, None)
        targets = [org.resolve_ou(t) for t in entry["targets"]]
        stack_set.ou_ids = targets
        deployed = stack_set.effective_parameters({})
        for ou in targets:
            for account_id in org.accounts_under(ou):
                if account_id == owner:
                    continue
                account = org.accounts[account_id]
                nearest = next(n for n in org.ancestors(account.parent_id) if n in targets)
                for r in entry["regions"]:
                    if (account_id, r) in stack_set.instances:
                        continue
                    instance = StackInstance(account_id, r, nearest)
                    if account.state == "ACTIVE":
                        instance.status, instance.detailed = "CURRENT", "SUCCEEDED"
                        instance.stack_id = stack_set.stack_id(account_id, r)
                        instance.template_version = version
                        instance.asset_types = template.asset_types
                        instance.deployed_params = deployed
                        world.clumio.stack_deployed(account_id, r, version, instance.stack_id,
                                                    connected_since, template.asset_types)
                    else:
                        instance.status, instance.detailed = "OUTDATED", "SKIPPED_SUSPENDED_ACCOUNT"
                        instance.reason = SUSPENDED_REASON
                    stack_set.instances.add(instance)
        world.engine.stack_sets[(owner, region, stack_set.name)] = stack_set



def seed_outside_connections(world: WorldState, entries: list[dict[str, Any]]) -> None:
    """Connections made from the Clumio portal (one ``ClumioService``-style stack per account and region, its ARN on
    the connection) or by Terraform (no stack: ``stack_arn`` null), connected since before the world started."""
    connected_since = world.clock.now() - timedelta(seconds=world.connect_seconds + 1)
    for entry in entries:
        version = entry.get("template_version", world.clumio.current)
        name = entry.get("stack_name")
        for account in entry["accounts"]:
            if account not in world.org.accounts:
                raise ConfigError(f"sandbox world: clumio.connections: account {account} is not in the organization",
                                  hint="list accounts of the world's organization")
            for region in entry["regions"]:
                arn = None
                if name:
                    suffix = uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{region}/{name}")
                    arn = f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{suffix}"
                world.clumio.stack_deployed(account, region, version, arn, connected_since)
