"""The plan's overview: what a reviewer reads first, before any per-instance row — counts by action and wave, the
StackSet-level changes, the OU × region matrix, removals, skipped accounts, and identical changes collapsed into one
group each. Every renderer (text, markdown, JSON) leads with it. Pure: no I/O."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.plan import Action, Change, Plan, Skip, WavePlan

OUTSIDE_ORG = "(outside the organization)"
AFTER_WAVES = "removals"  # the removals, wherever the operations put them (see Operations)


@dataclass(frozen=True)
class ChangeGroup:
    """Identical changes (same StackSet, action, reason and wave) collapsed into one line: how many instances, the
    accounts, regions and OUs they cover."""

    wave: str
    stack_set: str
    action: Action
    reason: str
    instances: int
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    ous: tuple[str, ...]


@dataclass(frozen=True)
class WaveCount:
    """One wave's changes by action; ``plan`` is None for the removals that run after every wave."""

    name: str
    counts: tuple[tuple[Action, int], ...]
    accounts: int
    plan: WavePlan | None

    def count(self, action: Action) -> int:
        return dict(self.counts).get(action, 0)


@dataclass(frozen=True)
class SkipGroup:
    """Accounts the plan leaves alone for the same reason."""

    reason: str
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    """Changes per OU path (rows) and region (columns), counted by action."""

    regions: tuple[str, ...]
    rows: tuple[tuple[str, tuple[tuple[str, tuple[tuple[Action, int], ...]], ...]], ...]


@dataclass(frozen=True)
class Overview:
    waves: tuple[WaveCount, ...]
    groups: tuple[ChangeGroup, ...]
    removals: tuple[ChangeGroup, ...]
    skipped: tuple[SkipGroup, ...]
    matrix: Matrix

    def groups_of(self, wave: str) -> list[ChangeGroup]:
        return [g for g in self.groups if g.wave == wave]


def _wave_of(change: Change, known: set[str]) -> str:
    return change.wave if change.wave in known and change.wave is not None else AFTER_WAVES


def group_changes(changes: Iterable[Change], known_waves: set[str]) -> list[ChangeGroup]:
    """Collapse changes with the same (wave, StackSet, action, reason); ordered as the waves run, removals last."""
    buckets: dict[tuple[str, str, Action, str], list[Change]] = defaultdict(list)
    for c in changes:
        buckets[(_wave_of(c, known_waves), c.key.stack_set, c.action, c.reason)].append(c)
    groups = [
        ChangeGroup(wave=wave, stack_set=stack_set, action=action, reason=reason, instances=len(rows),
                    accounts=tuple(sorted({c.key.account for c in rows})),
                    regions=tuple(sorted({c.key.region for c in rows})),
                    ous=tuple(sorted({c.ou_path or OUTSIDE_ORG for c in rows})))
        for (wave, stack_set, action, reason), rows in buckets.items()
    ]
    order = {Action.REMOVE: 0, Action.CHANGE: 1, Action.ADD: 2}
    return sorted(groups, key=lambda g: (g.stack_set, order[g.action], -g.instances, g.reason))


def _matrix(changes: Sequence[Change]) -> Matrix:
    regions = tuple(sorted({c.key.region for c in changes}))
    cells: dict[str, dict[str, Counter[Action]]] = defaultdict(lambda: defaultdict(Counter))
    for c in changes:
        cells[c.ou_path or OUTSIDE_ORG][c.key.region][c.action] += 1
    rows = tuple(
        (ou, tuple((region, tuple((a, cells[ou][region][a]) for a in Action if cells[ou][region][a]))
                   for region in regions))
        for ou in sorted(cells))
    return Matrix(regions, rows)


def _skips(skipped: Iterable[Skip]) -> tuple[SkipGroup, ...]:
    by_reason: dict[str, set[str]] = defaultdict(set)
    for s in skipped:
        by_reason[s.reason].add(s.account)
    return tuple(SkipGroup(reason, tuple(sorted(accounts)))
                 for reason, accounts in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def overview(plan: Plan) -> Overview:
    """The overview of ``plan``."""
    known = {w.name for w in plan.waves}
    by_wave: dict[str, list[Change]] = defaultdict(list)
    for c in plan.changes:
        by_wave[_wave_of(c, known)].append(c)
    waves = [WaveCount(w.name, tuple(Counter(c.action for c in by_wave.get(w.name, [])).items()),
                       len({c.key.account for c in by_wave.get(w.name, [])}), w) for w in plan.waves]
    if by_wave.get(AFTER_WAVES):
        rows = by_wave[AFTER_WAVES]
        waves.append(WaveCount(AFTER_WAVES, tuple(Counter(c.action for c in rows).items()),
                               len({c.key.account for c in rows}), None))
    groups = group_changes(plan.changes, known)
    return Overview(
        waves=tuple(waves),
        groups=tuple(g for g in groups if g.action is not Action.REMOVE),
        removals=tuple(g for g in groups if g.action is Action.REMOVE),
        skipped=_skips(plan.skipped),
        matrix=_matrix(plan.changes),
    )


def _group_json(g: ChangeGroup) -> dict[str, Any]:
    return {"wave": g.wave, "stack_set": g.stack_set, "action": g.action.value, "reason": g.reason,
            "instances": g.instances, "accounts": len(g.accounts), "regions": list(g.regions), "ous": list(g.ous)}


def overview_to_json(plan: Plan) -> dict[str, Any]:
    """The overview as the JSON plan's leading ``overview`` object (derived from the rest of the document)."""
    o = overview(plan)
    return {
        "summary": plan.summary(),
        "waves": [{"wave": w.name, "index": w.plan.index if w.plan else None,
                   **{a.value: w.count(a) for a in Action}, "accounts": w.accounts,
                   "estimate_seconds": w.plan.estimate_seconds if w.plan else None} for w in o.waves],
        "stack_set_changes": [{"stack_set": s.stack_set, "action": s.action.value,
                               "properties": [p.name for p in s.properties]} for s in plan.stack_set_changes],
        "matrix": {"regions": list(o.matrix.regions),
                   "rows": [{"ou": ou, "cells": {region: {a.value: n for a, n in counts} for region, counts in cells}}
                            for ou, cells in o.matrix.rows]},
        "removals": [_group_json(g) for g in o.removals],
        "groups": [_group_json(g) for g in o.groups],
        "skipped": [{"reason": s.reason, "accounts": list(s.accounts)} for s in o.skipped],
        "guardrails": plan.guardrails.counts(),
        "warnings": len(plan.warnings),
    }
