"""SCP documents → statements, and whether one statement applies to one request (three-valued).

Covered (docs/reference/guardrails.md §2): Effect, Action / NotAction, Resource / NotResource, and Condition blocks
on ``aws:RequestedRegion``, ``aws:PrincipalArn`` and ``aws:PrincipalTag/…`` with the String*, Arn* and Null
operators (and their ``…IfExists`` forms). Any other key or operator makes the statement MAYBE — reported as
"unknown", never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reconciler.plan.guardrails.match import Tri, all_of, any_of, match, match_arn

KNOWN_KEYS = ("aws:requestedregion", "aws:principalarn")
TAG_PREFIX = "aws:principaltag/"


@dataclass(frozen=True)
class Condition:
    """One ``operator: {key: values}`` pair of a Condition block (all pairs must hold)."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement of an SCP. Exactly one of ``actions`` / ``not_actions`` is set; ``resources`` /
    ``not_resources`` likewise (SCPs default Resource to ``*``)."""

    effect: str  # "Allow" | "Deny"
    sid: str | None
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Request:
    """What the StackSets execution role asks for, as the policy engine sees it.

    ``principal_arn`` and ``resource`` are families (see ``match``); ``principal_tags`` None means the role's tags are
    not known (a tag condition is then MAYBE).
    """

    action: str
    resource: str
    region: str
    principal_arn: str
    principal_tags: Mapping[str, str] | None


class PolicyError(ValueError):
    """An SCP whose content is not a policy document this evaluator can read."""


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, bool, int)) for v in value):
        return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
    if isinstance(value, bool):
        return (str(value).lower(),)
    raise PolicyError(f"{where} must be a string or a list of strings")


def _conditions(block: Any) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyError("Condition must be an object")
    out: list[Condition] = []
    for operator, pairs in block.items():
        if not isinstance(pairs, dict):
            raise PolicyError(f"Condition {operator} must map keys to values")
        for key, values in pairs.items():
            out.append(Condition(str(operator), str(key), _strings(values, f"Condition {operator} {key}")))
    return tuple(out)


def parse_policy(content: str) -> tuple[Statement, ...]:
    """Every statement of an SCP document; raises PolicyError for content that is not one."""
    try:
        doc = json.loads(content)
    except ValueError as exc:
        raise PolicyError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PolicyError("not a JSON object")
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list):
        raise PolicyError("Statement is missing")
    out: list[Statement] = []
    for item in statements:
        if not isinstance(item, dict) or item.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError("a statement has no Effect Allow or Deny")
        if "Principal" in item or "NotPrincipal" in item:
            raise PolicyError("SCP statements take no Principal")
        actions = _strings(item["Action"], "Action") if "Action" in item else None
        not_actions = _strings(item["NotAction"], "NotAction") if "NotAction" in item else None
        if (actions is None) == (not_actions is None):
            raise PolicyError("a statement needs exactly one of Action and NotAction")
        not_resources = _strings(item["NotResource"], "NotResource") if "NotResource" in item else None
        resources = _strings(item.get("Resource", "*"), "Resource") if not_resources is None else None
        sid = item.get("Sid")
        out.append(Statement(item["Effect"], str(sid) if sid is not None else None, actions, not_actions,
                             resources, not_resources, _conditions(item.get("Condition"))))
    return tuple(out)


@lru_cache(maxsize=4096)
def _action_matches(patterns: tuple[str, ...], action: str) -> Tri:
    # Action names are case-insensitive (IAM JSON policy elements: Action). The same few dozen (statement, action)
    # pairs come back for every (OU path, region) evaluated, whatever the account: answered once each.
    return any_of(match(p, action, ignore_case=True) for p in patterns)


def _resource_matches(patterns: tuple[str, ...], resource: str) -> Tri:
    return any_of(match_arn(p, resource) for p in patterns)


def applies(statement: Statement, request: Request) -> Tri:
    """Whether the statement covers the request: its action, its resource, and every condition."""
    if statement.actions is not None:
        acted = _action_matches(statement.actions, request.action)
    else:
        acted = _action_matches(statement.not_actions or (), request.action).negate()
    if acted is Tri.NO:
        return Tri.NO
    if statement.resources is not None:
        placed = _resource_matches(statement.resources, request.resource)
    else:
        placed = _resource_matches(statement.not_resources or (), request.resource).negate()
    if placed is Tri.NO:
        return Tri.NO
    return all_of((acted, placed, *(condition_holds(c, request) for c in statement.conditions)))


def undecided(statement: Statement, request: Request) -> tuple[str, ...]:
    """The condition keys of a statement that could not be decided for the request (for the reason text)."""
    keys = {c.key for c in statement.conditions if condition_holds(c, request) is Tri.MAYBE}
    return tuple(sorted(keys)) or ("its Resource",)


def _known_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in KNOWN_KEYS or lowered.startswith(TAG_PREFIX)


def _operator(c: Condition) -> tuple[str, bool, bool, bool] | None:
    """(base operator, negated, ignore case, if-exists) for the operators covered, else None."""
    name = c.operator
    if ":" in name:  # ForAnyValue: / ForAllValues: set operators are not evaluated
        return None
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    table = {
        "StringEquals": ("equals", False, False), "StringNotEquals": ("equals", True, False),
        "StringEqualsIgnoreCase": ("equals", False, True), "StringNotEqualsIgnoreCase": ("equals", True, True),
        "StringLike": ("like", False, False), "StringNotLike": ("like", True, False),
        "ArnEquals": ("arn", False, False), "ArnNotEquals": ("arn", True, False),
        "ArnLike": ("arn", False, False), "ArnNotLike": ("arn", True, False),
        "Null": ("null", False, False),
    }
    found = table.get(base)
    if found is None or (base == "Null" and if_exists):
        return None
    return found[0], found[1], found[2], if_exists


def _value_of(key: str, request: Request) -> tuple[Tri, str | None]:
    """(present?, value) of a condition key in the request context; MAYBE when the tags are not known."""
    lowered = key.lower()
    if lowered == "aws:requestedregion":
        return Tri.YES, request.region
    if lowered == "aws:principalarn":
        return Tri.YES, request.principal_arn
    if request.principal_tags is None:
        return Tri.MAYBE, None
    tag = key[len(TAG_PREFIX):]
    value = request.principal_tags.get(tag)
    return (Tri.YES, value) if value is not None else (Tri.NO, None)


def condition_holds(c: Condition, request: Request) -> Tri:
    """One condition against the request, as IAM evaluates it: values are ORed; a negated operator is true when no
    value matches, including when the key is absent; ``…IfExists`` is true when the key is absent."""
    op = _operator(c)
    if op is None or not _known_key(c.key):
        return Tri.MAYBE
    base, negated, ignore_case, if_exists = op
    present, value = _value_of(c.key, request)
    if base == "null":
        wants_absent = any_of(Tri.YES if v.lower() == "true" else Tri.NO for v in c.values)
        return present.negate() if wants_absent is Tri.YES else present
    if present is Tri.MAYBE:
        return Tri.MAYBE
    if present is Tri.NO or value is None:
        return Tri.YES if (negated or if_exists) else Tri.NO
    if base == "arn":
        # ArnEquals and ArnLike behave alike: both take wildcards per ARN part (IAM condition operators: ARN).
        hit = any_of(match_arn(v, value) for v in c.values)
    else:
        hit = any_of(match(v, value, wildcards=base == "like", ignore_case=ignore_case) for v in c.values)
    return hit.negate() if negated else hit
