"""Classify every desired (account, region) by what already brings Clumio there, and keep the plan's expansion to the
pairs nothing covers yet (reference: docs/reference/brownfield.md). Pure: no I/O."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.coverage import Coverage, CoverageRow
from reconciler.core.keys import InstanceKey
from reconciler.core.live import Connection, ConnectionStatus, Live
from reconciler.core.plan import Action, Change, Skip
from reconciler.plan.expand import Expansion

# A StackSet's instance stack is named StackSet-<StackSet name>-<UUID> (docs/reference/brownfield.md §2).
_INSTANCE_STACK = re.compile(
    r"^StackSet-(?P<name>[a-zA-Z][-a-zA-Z0-9]*)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_STACK = "no CloudFormation stack"


def stack_name_of(connection: Connection) -> str | None:
    """The stack behind a connection: ``stack_name``, else the name inside ``stack_arn``
    (``arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>``), else None."""
    if connection.stack_name:
        return connection.stack_name
    return stack_name_from_arn(connection.stack_arn)


def stack_name_from_arn(arn: str | None) -> str | None:
    """``<name>`` of ``arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>``, or None."""
    if arn and ":stack/" in arn:
        return arn.split(":stack/", 1)[1].split("/", 1)[0] or None
    return None


def stack_set_of_stack(stack_name: str | None) -> str | None:
    """The StackSet a stack belongs to, from its name (``StackSet-<name>-<uuid>``), or None for a plain stack."""
    if not stack_name:
        return None
    match = _INSTANCE_STACK.match(stack_name)
    return match.group("name") if match else None


def _outside_row(stack_set: str, key: tuple[str, str], connection: Connection) -> CoverageRow:
    stack = stack_name_of(connection)
    owner = stack_set_of_stack(stack)
    leave = ("left alone, backups keep running; to move it onto the StackSet, delete that stack and the connection, "
             "then plan again (the next plan deploys it)")
    if stack is None:
        reason = (f"Clumio connection {connection.id} ({connection.status.value}) has no CloudFormation stack "
                  "(Terraform's clumio_aws_connection module, or connected by hand)")
        forward = "left alone, backups keep running; to move it onto the StackSet, remove it from Terraform " \
                  "(terraform destroy of that connection), then plan again"
    elif owner is not None:
        reason = (f"Clumio connection {connection.id} ({connection.status.value}) comes from stack {stack}, left by "
                  f"StackSet {owner} but no instance of it now (retained, or a StackSet this account cannot see)")
        forward = leave
    else:
        reason = f"Clumio connection {connection.id} ({connection.status.value}) comes from its own stack {stack}"
        forward = leave
    return CoverageRow(stack_set, key[0], key[1], Coverage.OUTSIDE_STACK_SET, reason, forward, stack or NO_STACK)


def move_steps(key: InstanceKey, wave: str | None, connection: Connection) -> tuple[str, ...]:
    """The ordered steps that move one connection made outside any StackSet onto ``key.stack_set`` with no gap in
    backups (docs/reference/brownfield.md §6): deploy next to the old stack, prove the takeover in Clumio, and only
    then remove the old stack (or, for Terraform's module, its state and roles)."""
    stack = stack_name_of(connection)
    where = f"{key.account}/{key.region}"
    in_wave = f"wave {wave}" if wave else "its wave"
    beside = f"next to stack {stack}" if stack else "next to the roles Terraform's module made"
    steps = [
        f"1. {in_wave}: CreateStackInstances deploys {key.stack_set}'s stack in {where} {beside}; both run, and "
        f"Clumio connection {connection.id} stays connected",
        f"2. {in_wave}'s gate: waits until Clumio shows connection {connection.id} connected through "
        f"{key.stack_set}'s stack" + (f", with {stack} as its retired stack" if stack else "")
        + "; if it does not, the wave fails and nothing else changes (keep the old stack)",
    ]
    if stack:
        steps.append(
            f"3. then you: delete the retired stack, {delete_stack_command(stack, key.account, key.region)} (plan and "
            "drift name it until Clumio stops listing it)")
    else:
        steps.append(
            f"3. then you: `terraform state rm` the clumio_aws_connection of {where} (never `terraform destroy` it: "
            "that deletes the connection the StackSet now uses), then destroy the module's IAM roles and rules")
    return tuple(steps)


def delete_stack_command(stack: str, account: str, region: str) -> str:
    """How the account's owner deletes a stack made outside any StackSet (a retired one, once moved)."""
    return f"`aws cloudformation delete-stack --stack-name {stack} --region {region}` with credentials for account " \
           f"{account}"


def _move_row(key: InstanceKey, wave: str | None, connection: Connection) -> CoverageRow:
    stack = stack_name_of(connection)
    made = f"its own stack {stack}" if stack else "no CloudFormation stack (Terraform's clumio_aws_connection)"
    steps = move_steps(key, wave, connection)
    return CoverageRow(
        key.stack_set, key.account, key.region, Coverage.MOVE,
        f"Clumio connection {connection.id} ({connection.status.value}) comes from {made}; "
        "targets.existing_connections: move",
        f"moved onto {key.stack_set} in {len(steps)} steps, backups never stop",
        stack or NO_STACK, connection=connection.id, stack_arn=connection.stack_arn, steps=steps, wave=wave)


def classify_coverage(live: Live, desired_keys: Iterable[InstanceKey], *, move: bool = False,
                      waves: Mapping[InstanceKey, str] | None = None
                      ) -> tuple[tuple[CoverageRow, ...], Mapping[Coverage, int]]:
    """Every desired key classified: managed (an instance of its StackSet), covered by another Clumio StackSet,
    connected outside any StackSet (an unlinked connection covers nothing) — or, with ``move``, moving onto the
    StackSet in the key's wave (``waves``) — or new. Returns a row, sorted, for each key that is neither managed nor
    new (the ones a reader needs the reason for), and how many keys are managed and new: at 170,000 instances a row
    per instance would be most of the work and read by nobody."""
    others: dict[tuple[str, str], str] = {}
    for name, other in sorted(live.other_clumio_stack_sets.items()):
        for pair in other.instances:
            others.setdefault(pair, name)
    instances, connections = live.instances, live.connections
    rows: list[CoverageRow] = []
    managed = new = 0
    for key in desired_keys:
        if key in instances:
            managed += 1
            continue
        pair = (key.account, key.region)
        if pair in others:
            name = others[pair]
            rows.append(CoverageRow(
                key.stack_set, key.account, key.region, Coverage.OTHER_STACK_SET,
                f"already deployed by Clumio StackSet {name}",
                f"adopt it: set stack_set.name: {name} and run `clumio-org import --stack-set {name}`; or remove "
                f"this account from {name} first", by=name))
            continue
        connection = connections.get(pair)
        if connection is not None and connection.status is not ConnectionStatus.UNLINKED:
            if move:
                rows.append(_move_row(key, (waves or {}).get(key), connection))
            else:
                rows.append(_outside_row(key.stack_set, pair, connection))
            continue
        new += 1  # nothing Clumio there (an unlinked connection covers nothing: the new stack replaces it)
    rows.sort(key=_row_order)
    return tuple(rows), {Coverage.NEW: new, Coverage.MANAGED: managed}


def _row_order(row: CoverageRow) -> tuple[str, str, str]:
    return row.stack_set, row.account, row.region


def covered_elsewhere(rows: Iterable[CoverageRow]) -> dict[tuple[str, str], CoverageRow]:
    """(account, region) → the row, for the pairs another deployment covers."""
    return {(r.account, r.region): r for r in rows if r.coverage.blocks_deployment}


def moves(rows: Iterable[CoverageRow]) -> dict[tuple[str, str], CoverageRow]:
    """(account, region) → the row, for the connections the plan moves onto the StackSet."""
    return {(r.account, r.region): r for r in rows if r.coverage is Coverage.MOVE}


def moved_reasons(changes: tuple[Change, ...], moved: Mapping[tuple[str, str], CoverageRow]) -> tuple[Change, ...]:
    """The changes, each new instance that moves a connection saying so (its wave's summary groups them)."""
    out = []
    for change in changes:
        row = moved.get((change.key.account, change.key.region))
        if row is not None and change.action is Action.ADD:
            source = f"stack {row.by}" if row.stack_arn else "Terraform's clumio_aws_connection"
            change = replace(change, reason=f"moves its Clumio connection from {source} (kept connected)")
        out.append(change)
    return tuple(out)


def not_moved(rows: Iterable[CoverageRow], live: Live, added: Iterable[InstanceKey],
              why: str) -> tuple[CoverageRow, ...]:
    """The rows, where a move's instance is not among ``added`` (the guardrails skip it, say) turned back into a
    connection left alone this time, saying ``why``: the plan never lists steps it will not take."""
    keys = {(k.account, k.region) for k in added}
    out = []
    for row in rows:
        pair = (row.account, row.region)
        if row.coverage is Coverage.MOVE and pair not in keys:
            row = replace(_outside_row(row.stack_set, pair, live.connections[pair]),
                          way_forward=f"left alone in this plan: {why}; backups keep running on it")
        out.append(row)
    return tuple(out)


def retired_stack_notes(live: Live, pairs: Iterable[tuple[str, str]], limit: int = 10) -> tuple[str, ...]:
    """One note per connection Clumio took over from a stack it now lists as retired (``retired_stack_arn``), which
    the account's owner still has to delete (brownfield.md §6); past ``limit``, one line counts the rest."""
    connections = live.connections
    retired = {pair for pair in pairs if (conn := connections.get(pair)) is not None and conn.retired_stack_arn}
    found = [connections[pair] for pair in sorted(retired)]  # sorted after the filter: few of 34,000 pairs
    notes = []
    for conn in found[:limit]:
        name = stack_name_from_arn(conn.retired_stack_arn) or str(conn.retired_stack_arn)
        notes.append(f"Clumio connection {conn.id} now runs through the StackSet and lists stack {name} as retired: "
                     f"delete it ({delete_stack_command(name, conn.account, conn.region)}); this note goes when "
                     "Clumio stops listing it")
    if len(found) > limit:
        notes.append(f"… and {len(found) - limit} more Clumio connection(s) list a retired stack to delete "
                     "(their retired_stack_arn names it)")
    return tuple(notes)


def restrict(expansion: Expansion, rows: Iterable[CoverageRow]) -> Expansion:
    """The expansion minus every pair another Clumio deployment covers; an account left with no region is skipped,
    with the reason, so the schedule's account filters leave it out of every operation (DIFFERENCE/INTERSECTION)."""
    blocked = covered_elsewhere(rows)
    if not blocked:
        return expansion
    targets = {k: w for k, w in expansion.targets.items() if (k.account, k.region) not in blocked}
    management = {k: w for k, w in expansion.management_keys.items() if (k.account, k.region) not in blocked}
    still = {k.account for k in targets}
    gone = sorted(a for a in expansion.accounts if a not in still)
    skipped = list(expansion.skipped)
    for account in gone:
        mine = [r for (a, _), r in sorted(blocked.items()) if a == account]
        why = sorted({_short(r) for r in mine})
        skipped.append(Skip(account, "already has Clumio: " + "; ".join(why), mine[0].stack_set if mine else None))
    return replace(
        expansion, targets=targets, management_keys=management,
        accounts={a: w for a, w in expansion.accounts.items() if a in still},
        anchors={a: o for a, o in expansion.anchors.items() if a in still},
        skipped=tuple(sorted(skipped, key=lambda s: s.account)))


def _short(row: CoverageRow) -> str:
    if row.coverage is Coverage.OTHER_STACK_SET:
        return f"StackSet {row.by}"
    return f"connected outside any StackSet ({row.by})"


def coverage_counts(rows: Iterable[CoverageRow], plain: Mapping[Coverage, int]) -> Mapping[Coverage, int]:
    """How many desired pairs fall in each class, every class present (zero included), in enum order: ``rows``
    counted, plus the ``plain`` (new, managed) counts :func:`classify_coverage` gave."""
    counted = Counter(r.coverage for r in rows)
    counted.update(plain)
    return {c: counted.get(c, 0) for c in Coverage}


def coverage_to_json(rows: Iterable[CoverageRow], counts: Iterable[tuple[str, int]]) -> dict[str, object]:
    """The plan file's ``coverage``: counts per class and every pair covered elsewhere (new and managed pairs are
    the changes and the StackSet's instances). Absent for a greenfield plan, so its file reads as before."""
    existing = list(rows)
    if not existing:
        return {}
    return {"coverage": {
        "counts": dict(counts),
        "existing": [_row_json(r) for r in existing]}}


def _row_json(row: CoverageRow) -> dict[str, object]:
    out: dict[str, object] = {"stack_set": row.stack_set, "account": row.account, "region": row.region,
                              "class": row.coverage.value, "by": row.by, "reason": row.reason,
                              "way_forward": row.way_forward}
    if row.coverage is Coverage.MOVE:
        out.update(connection=row.connection, stack_arn=row.stack_arn, wave=row.wave, steps=list(row.steps))
    return out


def coverage_from_json(data: Mapping[str, Any]) -> tuple[tuple[CoverageRow, ...], tuple[tuple[str, int], ...]]:
    block = data.get("coverage")
    if not isinstance(block, dict):
        return (), ()
    rows = tuple(CoverageRow(r["stack_set"], r["account"], r["region"], Coverage(r["class"]), r["reason"],
                             r.get("way_forward", ""), r.get("by"), r.get("connection"), r.get("stack_arn"),
                             tuple(r.get("steps", ())), r.get("wave")) for r in block.get("existing", []))
    return rows, tuple((str(k), int(v)) for k, v in block.get("counts", {}).items())


def counts_text(counts: Iterable[tuple[str, int]]) -> str:
    """``Existing Clumio: 20 new, 4 managed, 8 covered by another Clumio StackSet, 2 connected outside any
    StackSet.``"""
    n = dict(counts)
    moving = n.get(Coverage.MOVE.value, 0)
    return (f"Existing Clumio: {n.get(Coverage.NEW.value, 0)} new, {n.get(Coverage.MANAGED.value, 0)} managed, "
            f"{n.get(Coverage.OTHER_STACK_SET.value, 0)} covered by another Clumio StackSet, "
            f"{n.get(Coverage.OUTSIDE_STACK_SET.value, 0)} connected outside any StackSet"
            + (f", {moving} moving onto the StackSet." if moving else "."))


def other_stack_set_notes(live: Live) -> tuple[str, ...]:
    """One warning per Clumio StackSet the config does not manage, with the way to adopt it."""
    notes = []
    for name, other in sorted(live.other_clumio_stack_sets.items()):
        regions = sorted({r for _, r in other.instances})
        notes.append(
            f"Clumio StackSet {name} ({other.stack_set.permission_model.value}, template "
            f"{other.template_version or 'unknown'}, {len(other.instances)} instance(s) in "
            f"{', '.join(regions) or 'no region'}) is not managed by this config: its accounts are left alone; to "
            f"manage it, set stack_set.name: {name} and run `clumio-org import --stack-set {name}`")
    return tuple(notes)



def made_elsewhere(live: Live, managed: Iterable[str], account: str, region: str) -> str | None:
    """What made the connection of (account, region) when it is not one of ``managed`` StackSets: another Clumio
    StackSet's instance, or a stack that is no managed StackSet's instance stack; None when the managed StackSets
    may have made it (its stack is ``StackSet-<managed>-…``) or nothing says (no stack named)."""
    for name, other in sorted(live.other_clumio_stack_sets.items()):
        if (account, region) in other.instances:
            return f"Clumio StackSet {name}"
    conn = live.connections.get((account, region))
    stack = stack_name_of(conn) if conn is not None else None
    if stack is None or stack_set_of_stack(stack) in set(managed):
        return None
    return f"stack {stack}"
