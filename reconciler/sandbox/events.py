"""World events for demos and tests: organization changes (with StackSets auto-deployment), drift, faults."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.instances import StackInstance
from reconciler.sandbox.operations import Operation, Target

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState


def _require(args: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if not args.get(n)]
    if missing:
        raise AwsFault("ValidationError", f"event needs {', '.join(missing)}")


def _account(world: WorldState, args: dict[str, Any]) -> str:
    _require(args, "account")
    account = str(args["account"])
    if account not in world.org.accounts:
        raise AwsFault("ValidationError", f"no account {account} in the organization")
    return account


def auto_deploy(world: WorldState, account_id: str) -> list[str]:
    """Service-managed auto-deployment after ``account_id`` joined, moved or changed state (§A3, §A5).

    An account now under a targeted OU gets instances in all the StackSet's regions; one that left every targeted
    OU loses them (retained or not per RetainStacksOnAccountRemoval). Account filters and OperationPreferences do
    not apply to these automatic operations.
    """
    org = world.org
    account = org.accounts[account_id]
    chain = org.ancestors(account.parent_id)
    started: list[str] = []
    now = world.clock.now()
    for stack_set in world.engine.all():
        auto = stack_set.auto_deployment or {}
        if stack_set.status != "ACTIVE" or not stack_set.service_managed or not auto.get("Enabled"):
            continue
        covering = next((node for node in chain if node in stack_set.ou_ids), None)
        existing = stack_set.instances.for_account(account_id)
        if covering is not None and account_id != org.management_account:
            if existing:
                for instance in existing:
                    instance.ou_id = covering
                continue
            if account.state != "ACTIVE":
                continue
            regions = sorted({r for r in stack_set.instances.regions()} or _last_regions(stack_set))
            if not regions:
                continue
            op_id = str(uuid.uuid4())
            targets = []
            for region in regions:
                instance = stack_set.instances.add(StackInstance(account_id, region, covering))
                instance.last_operation_id = op_id
                targets.append(Target(account_id, region, covering))
            op = Operation(op_id, "CREATE", now, {}, {"OrganizationalUnitIds": [covering]}, None, targets,
                           automatic=True)
            world.engine.submit(stack_set, op, world.now_ts())
            started.append(op_id)
        elif existing and covering is None:
            op_id = str(uuid.uuid4())
            targets = [Target(i.account, i.region, i.ou_id) for i in existing]
            op = Operation(op_id, "DELETE", now, {}, {"OrganizationalUnitIds": [existing[0].ou_id]},
                           bool(auto.get("RetainStacksOnAccountRemoval")), targets, automatic=True)
            world.engine.submit(stack_set, op, world.now_ts())
            started.append(op_id)
    return started


def _last_regions(stack_set: Any) -> list[str]:
    """Regions of the latest CREATE when every instance is gone (the StackSet still deploys there)."""
    for op in sorted(stack_set.operations.values(), key=lambda o: o.created, reverse=True):
        if op.action == "CREATE":
            return sorted({s.region for s in op.steps} | {t.region for t in op.pending_targets})
    return []


def apply_event(world: WorldState, name: str, args: dict[str, Any]) -> dict[str, Any]:
    if name in _ACCOUNT_EVENTS:
        return _account_event(world, name, args)
    if name == "drift-stack":
        return _drift_stack(world, args)
    if name == "release-template":
        _require(args, "version")
        world.clumio.release(str(args["version"]))
        return {"event": name, "current": world.clumio.current, "versions": list(world.clumio.versions)}
    if name == "unlink-connection":
        account = _account(world, args)
        _require(args, "region")
        connection = world.clumio.connections.get(f"{account}_{args['region']}")
        if connection is None:
            raise AwsFault("ValidationError", f"no Clumio connection {account}_{args['region']}")
        connection.unlinked_at = world.clock.now()
        return {"event": name, "connection": connection.id, "status": "unlinked"}
    if name == "delete-stack":
        return _delete_stack(world, args)
    if name == "fail-account":
        account = _account(world, args)
        reason = str(args.get("reason") or "ResourceLogicalId:ClumioIAMRole, ResourceType:AWS::IAM::Role, "
                                            "ResourceStatusReason:Access denied by a service control policy.")
        world.failing_accounts[account] = reason
        return {"event": name, "account": account, "reason": reason}
    if name == "heal-account":
        account = _account(world, args)
        world.failing_accounts.pop(account, None)
        return {"event": name, "account": account}
    if name == "set-faults":
        return _set_faults(world, args)
    if name in ("expire-credentials", "renew-credentials", "revoke-clumio-token", "s3-fault"):
        from reconciler.sandbox.credential_events import apply_credential_event

        return apply_credential_event(world, name, args)
    if name == "advance-time":
        advance = getattr(world.clock, "advance", None)
        if advance is None:
            raise AwsFault("ValidationError", "this clock cannot be advanced")
        advance(float(args.get("seconds", 0)))
        return {"event": name, "now": world.clock.now().isoformat()}
    raise AwsFault("ValidationError", f"unknown world event {name!r}; known: move-account, add-account, "
                                      "suspend-account, close-account, reactivate-account, drift-stack, "
                                      "release-template, unlink-connection, delete-stack, "
                                      "fail-account, heal-account, set-faults, advance-time, "
                                      "expire-credentials, renew-credentials, revoke-clumio-token, s3-fault")


_ACCOUNT_EVENTS = frozenset({"move-account", "add-account", "suspend-account", "close-account",
                             "reactivate-account"})


def _account_event(world: WorldState, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """An account joining, moving within or leaving (suspended, closed, reinstated) the organization."""
    org = world.org
    if name == "move-account":
        account = _account(world, args)
        _require(args, "ou")
        target = org.resolve_ou(str(args["ou"]))
        old = org.move_account(account, target)
        return {"event": name, "account": account, "from": old, "to": target, "path": org.path_of(target),
                "operations": auto_deploy(world, account)}
    if name == "add-account":
        _require(args, "name")
        target = org.resolve_ou(str(args.get("ou") or org.root_id))
        account = str(args.get("id") or _new_account_id(world))
        if account in org.accounts:
            raise AwsFault("ValidationError", f"account {account} already exists")
        org.add_account(account, str(args["name"]), target, "ACTIVE", world.clock.now(), email=args.get("email"))
        return {"event": name, "account": account, "ou": target, "path": org.path_of(target),
                "operations": auto_deploy(world, account)}
    if name in ("suspend-account", "close-account"):
        account = _account(world, args)
        if account == org.management_account:
            raise AwsFault("ValidationError", "the management account cannot be suspended or closed")
        org.accounts[account].state = "SUSPENDED" if name == "suspend-account" else "CLOSED"
        return {"event": name, "account": account, "state": org.accounts[account].state}
    # reactivate-account: a suspended account reinstated within the post-closure period (an ACTIVE state again); its
    # instance is still OUTDATED (SKIPPED_SUSPENDED_ACCOUNT) until an operation reaches it (docs/reference/targets.md
    # T5).
    account = _account(world, args)
    if org.accounts[account].state != "SUSPENDED":
        raise AwsFault("ValidationError", f"account {account} is {org.accounts[account].state}, not SUSPENDED")
    org.accounts[account].state = "ACTIVE"
    return {"event": name, "account": account, "state": "ACTIVE"}


def _new_account_id(world: WorldState) -> str:
    candidate = 700000000001
    while str(candidate) in world.org.accounts:
        candidate += 1
    return str(candidate)


def _drift_stack(world: WorldState, args: dict[str, Any]) -> dict[str, Any]:
    account = _account(world, args)
    _require(args, "region")
    region = str(args["region"])
    wanted = args.get("stack_set")
    for stack_set in world.engine.all():
        if wanted and stack_set.name != wanted:
            continue
        instance = stack_set.instances.get((account, region))
        if instance is None or instance.stack_id is None:
            continue
        resources = stack_set.template.resources
        resource = str(args.get("resource") or ("ClumioIAMRole" if "ClumioIAMRole" in resources
                                                else sorted(resources)[0]))
        if resource not in resources:
            raise AwsFault("ValidationError", f"{stack_set.name} has no resource {resource}")
        prop = str(args.get("property") or "Description")
        instance.drifted[resource] = (prop, str(args.get("actual") or "changed out of band"))
        return {"event": "drift-stack", "stack_set": stack_set.name, "account": account, "region": region,
                "resource": resource, "property": prop}
    raise AwsFault("ValidationError", f"no deployed stack instance for {account} in {region}")


def _delete_stack(world: WorldState, args: dict[str, Any]) -> dict[str, Any]:
    """The owner of an account deletes a stack made outside any StackSet (``aws cloudformation delete-stack``): the
    portal's ``ClumioService`` stack, before or after the StackSet took its connection over (brownfield.md §6)."""
    account = _account(world, args)
    _require(args, "region", "stack_name")
    name = str(args["stack_name"])
    if name.startswith("StackSet-"):
        raise AwsFault("ValidationError", f"stack {name} belongs to a StackSet: delete its stack instance instead")
    region, now = str(args["region"]), world.clock.now()
    connection = world.clumio.connections.get(f"{account}_{region}")
    if connection is None:
        raise AwsFault("ValidationError", f"no Clumio connection {account}_{region}")
    # Retired (the StackSet took the connection over): Clumio stops listing it. In use: the connection unlinks.
    if f":stack/{name}/" in (connection.retired_stack_arn or ""):
        connection.retired_stack_arn = None
    elif f":stack/{name}/" in (connection.stack_arn or "") and connection.unlinked_at is None:
        connection.unlinked_at = now
    else:
        raise AwsFault("ValidationError", f"connection {connection.id} names no stack {name}")
    status = connection.status(now)
    return {"event": "delete-stack", "account": account, "region": args["region"], "stack_name": name,
            "connection": f"{account}_{args['region']}", "status": status}


def _set_faults(world: WorldState, args: dict[str, Any]) -> dict[str, Any]:
    if "throttle_rate" in args:
        world.throttle_rate = float(args["throttle_rate"])
    if "clumio_error_rate" in args:
        world.clumio.error_rate = float(args["clumio_error_rate"])
    if "latency_ms" in args:
        world.latency_ms = float(args["latency_ms"])
    if "failing_accounts" in args:
        world.failing_accounts = {str(k): str(v) for k, v in (args["failing_accounts"] or {}).items()}
    if "empty_first_pages" in args:
        world.empty_first_pages = bool(args["empty_first_pages"])
    if "seed" in args:
        world.rng.seed(int(args["seed"]))
        world.clumio.rng.seed(int(args["seed"]) + 1)
    return {"event": "set-faults", "throttle_rate": world.throttle_rate,
            "clumio_error_rate": world.clumio.error_rate, "latency_ms": world.latency_ms,
            "failing_accounts": sorted(world.failing_accounts), "empty_first_pages": world.empty_first_pages}
