"""Evaluate the SCPs in force on each targeted account against what a Clumio stack needs (pure, no I/O).

For one request the order is AWS's (docs/reference/guardrails.md §2): an explicit Deny in any SCP on the root, an OU
on the account's path or the account itself wins; otherwise every one of those levels must have an SCP whose Allow
covers the request, or it is implicitly denied. A statement this evaluator cannot decide makes the request
"unknown" unless something else denies it for sure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.core.guardrails import (
    CONTROL_TOWER_POLICY_PREFIX,
    GuardrailFinding,
    Guardrails,
    GuardrailSource,
    ScpPolicy,
    Verdict,
)
from reconciler.core.keys import InstanceKey
from reconciler.core.live import OrgTree
from reconciler.plan.guardrails.match import UNKNOWN, Tri
from reconciler.plan.guardrails.policy import PolicyError, Request, Statement, applies, parse_policy, undecided
from reconciler.plan.guardrails.template import RequiredAction

EXECUTION_ROLE_PREFIX = "stacksets-exec-"
_ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def execution_role_arn(account: str) -> str:
    """The service-managed execution role as a family: StackSets names it ``stacksets-exec-<hash>``."""
    return f"arn:aws:iam::{account}:role/{EXECUTION_ROLE_PREFIX}{UNKNOWN}"


@dataclass(frozen=True)
class _Level:
    node: str  # root id, OU id, or account id
    label: str  # "/", "/Workloads", "account 111111111111"
    policies: tuple[str, ...]


@dataclass(frozen=True)
class _Outcome:
    verdict: Verdict | None  # None: allowed
    level: int = -1
    policy_id: str | None = None
    action: str | None = None
    implicit: bool = False  # no Allow at that level (allow-list SCPs)
    region_condition: bool = False
    unknown_keys: tuple[str, ...] = ()


class Evaluator:
    """Evaluates (account, region) pairs against one Guardrails snapshot and one set of required actions.

    Results are cached per (policies on the path, region): 10,000 accounts usually share a few dozen paths. A policy
    that names an account id makes its results per account.
    """

    def __init__(self, tree: OrgTree, guardrails: Guardrails, actions: Iterable[RequiredAction],
                 principal_tags: Mapping[str, str] | None = None) -> None:
        self.tree = tree
        self.guardrails = guardrails
        self.actions = tuple(actions)
        self.principal_tags = principal_tags if principal_tags is not None else {}
        self._statements: dict[str, tuple[Statement, ...] | None] = {}
        self._paths: dict[str, str] = {}
        self._cache: dict[tuple[object, ...], dict[str, _Outcome]] = {}  # by what results depend on, then region
        self._specific: dict[str, bool] = {}
        self._by_account: dict[str, tuple[list[_Level], dict[str, _Outcome]]] = {}
        self.in_force = bool(guardrails.attachments.get(tree.root_id))

    def statements(self, policy_id: str) -> tuple[Statement, ...] | None:
        """Parsed statements of a policy; None when it cannot be read (every request is then unknown)."""
        if policy_id not in self._statements:
            policy = self.guardrails.policies.get(policy_id)
            try:
                self._statements[policy_id] = parse_policy(policy.content) if policy is not None else None
            except PolicyError:
                self._statements[policy_id] = None
        return self._statements[policy_id]

    def _levels(self, account: str) -> list[_Level]:
        attached = self.guardrails.attachments
        levels: list[_Level] = []
        for node in reversed(self.tree.ancestors(account)):
            if node not in self._paths:
                self._paths[node] = self.tree.path_of(node)
            levels.append(_Level(node, self._paths[node], attached.get(node, ())))
        levels.append(_Level(account, f"account {account}", attached.get(account, ())))
        return levels

    def _names_accounts(self, levels: list[_Level]) -> bool:
        return any(self._account_specific(p) for level in levels for p in level.policies)

    def _account_specific(self, policy_id: str) -> bool:
        """Whether a policy names an account id (its results then differ per account)."""
        found = self._specific.get(policy_id)
        if found is None:
            policy = self.guardrails.policies.get(policy_id)
            found = self._specific[policy_id] = bool(policy and _ACCOUNT_ID.search(policy.content))
        return found

    def finding(self, key: InstanceKey) -> GuardrailFinding | None:
        """The finding for one pair, or None when the guardrails let the stack through."""
        if not self.in_force or key.account == self.tree.management_account:
            return None  # SCPs do not apply to the management account, and are not enabled without a root SCP
        levels, by_region = self._account_levels(key.account)
        outcome = by_region.get(key.region)
        if outcome is None:
            outcome = self._evaluate(key.account, key.region, levels)
            by_region[key.region] = outcome
        if outcome.verdict is None:
            return None
        return self._describe(key, outcome, levels)

    def _account_levels(self, account: str) -> tuple[list[_Level], dict[str, _Outcome]]:
        """An account's levels, and the outcomes by region it shares with every account whose results depend on
        the same things (the policies on its path, and the account itself when one of them names an account id);
        worked out once per account, not once per region."""
        found = self._by_account.get(account)
        if found is None:
            levels = self._levels(account)
            path: tuple[object, ...] = (tuple(level.policies for level in levels),)
            if self._names_accounts(levels):
                path += (account,)
            found = self._by_account[account] = (levels, self._cache.setdefault(path, {}))
        return found

    def _evaluate(self, account: str, region: str, levels: list[_Level]) -> _Outcome:
        first_unknown: _Outcome | None = None
        for action in self.actions:
            request = Request(action.action, action.resource_in(account, region), action.requested_region(region),
                              execution_role_arn(account), self.principal_tags)
            outcome = self._request(request, levels)
            if outcome.verdict is Verdict.DENIED:
                return outcome
            if outcome.verdict is Verdict.UNKNOWN and first_unknown is None:
                first_unknown = outcome
        return first_unknown or _Outcome(None)

    def _request(self, request: Request, levels: list[_Level]) -> _Outcome:
        unknown: _Outcome | None = None
        for index, level in enumerate(levels):
            for policy_id in level.policies:
                statements = self.statements(policy_id)
                if statements is None:
                    unknown = unknown or _Outcome(Verdict.UNKNOWN, index, policy_id, request.action,
                                                  unknown_keys=("(policy not readable)",))
                    continue
                for st in statements:
                    if st.effect != "Deny":
                        continue
                    hit = applies(st, request)
                    if hit is Tri.YES:
                        regional = any(c.key.lower() == "aws:requestedregion" for c in st.conditions)
                        return _Outcome(Verdict.DENIED, index, policy_id, request.action, region_condition=regional)
                    if hit is Tri.MAYBE and unknown is None:
                        unknown = _Outcome(Verdict.UNKNOWN, index, policy_id, request.action,
                                           unknown_keys=undecided(st, request))
        for index, level in enumerate(levels):
            allowed = self._allowed(request, level)
            if allowed is Tri.NO:
                return _Outcome(Verdict.DENIED, index, None, request.action, implicit=True)
            if allowed is Tri.MAYBE and unknown is None:
                unknown = _Outcome(Verdict.UNKNOWN, index, None, request.action, implicit=True)
        return unknown or _Outcome(None)

    def _allowed(self, request: Request, level: _Level) -> Tri:
        result = Tri.NO
        for policy_id in level.policies:
            statements = self.statements(policy_id)
            if statements is None:
                result = Tri.MAYBE
                continue
            for st in statements:
                if st.effect == "Allow":
                    hit = applies(st, request)
                    if hit is Tri.YES:
                        return Tri.YES
                    if hit is Tri.MAYBE:
                        result = Tri.MAYBE
        return result

    def _describe(self, key: InstanceKey, outcome: _Outcome, levels: list[_Level]) -> GuardrailFinding:
        level = levels[outcome.level]
        target = key.account if level.node == key.account else level.label
        where = level.label if level.node != key.account else f"account {key.account}"
        policy: ScpPolicy | None = self.guardrails.policies.get(outcome.policy_id or "")
        name = policy.name if policy is not None else None
        action = outcome.action or ""
        label = f"SCP {outcome.policy_id} ({name})" if name else f"SCP {outcome.policy_id}"
        if outcome.verdict is Verdict.UNKNOWN:
            if outcome.implicit:
                reason = f"unknown: cannot tell whether an SCP on {where} allows {action}"
            else:
                keys = ", ".join(outcome.unknown_keys) or "a condition"
                reason = f"unknown: {label} on {where} denies {action} depending on {keys}"
            return GuardrailFinding(key, Verdict.UNKNOWN, reason, GuardrailSource.SCP, outcome.policy_id, name,
                                    target, action)
        if outcome.implicit:
            reason = f"will fail: no SCP on {where} allows {action} (an allow list must allow it at every level)"
            return GuardrailFinding(key, Verdict.DENIED, reason, GuardrailSource.SCP, None, None, target, action)
        if outcome.region_condition and name and name.startswith(CONTROL_TOWER_POLICY_PREFIX):
            reason = f"will fail: region blocked by Control Tower ({label} on {where} denies {action} in {key.region})"
            return GuardrailFinding(key, Verdict.DENIED, reason, GuardrailSource.CONTROL_TOWER, outcome.policy_id,
                                    name, target, action)
        in_region = f" in {key.region}" if outcome.region_condition else ""
        reason = f"will fail: {label} on {where} denies {action}{in_region}"
        return GuardrailFinding(key, Verdict.DENIED, reason, GuardrailSource.SCP, outcome.policy_id, name, target,
                                action)


def evaluate(tree: OrgTree, guardrails: Guardrails, keys: Iterable[InstanceKey],
             actions: Iterable[RequiredAction], principal_tags: Mapping[str, str] | None = None,
             ) -> list[GuardrailFinding]:
    """Findings for every pair the guardrails deny or may deny, sorted by key."""
    evaluator = Evaluator(tree, guardrails, actions, principal_tags)
    found = [f for f in (evaluator.finding(k) for k in sorted(keys)) if f is not None]
    return found
