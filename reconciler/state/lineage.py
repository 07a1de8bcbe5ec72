"""A state knows its deployment: the managed StackSet carries the lineage of the state that deploys it (the
``clumio-org:state-lineage`` tag), and plan, apply, drift and ``state show`` refuse a state of another lineage — or
no state at all over a StackSet some state manages — unless told to re-link (``--force``) or adopt (``--adopt``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.core.errors import StateError
from reconciler.core.live import LiveStackSet
from reconciler.state.model import State


class LineageError(StateError):
    """The state is not the one the managed StackSet says deploys it."""


class LinkAction(enum.Enum):
    """What apply does to the state before it runs: nothing, adopt the StackSet's lineage into a new state, or
    re-link an existing state of another lineage to it."""

    NONE = "none"
    ADOPT = "adopt"
    RELINK = "relink"


@dataclass(frozen=True)
class Link:
    action: LinkAction = LinkAction.NONE
    lineage: str | None = None  # the StackSet's lineage the state takes on (ADOPT, RELINK)
    note: str | None = None


def is_fresh(state: State | None) -> bool:
    """No state, or one that has recorded nothing yet (no StackSet, no instance, no operation)."""
    return state is None or not (state.stack_sets or state.instances or state.journal or state.last_apply)


def stack_set_lineages(stack_sets: Mapping[str, LiveStackSet | None]) -> dict[str, str]:
    """The managed StackSets that carry a lineage tag, with it."""
    return {name: ss.lineage for name, ss in sorted(stack_sets.items()) if ss is not None and ss.lineage}


def check_lineage(stack_sets: Mapping[str, LiveStackSet | None], state: State | None, where: str, *,
                  adopt: bool = False, force: bool = False, command: str = "plan") -> Link:
    """The link to make (or none); LineageError when the state is another deployment's, or there is no state over a
    StackSet a state manages, and the matching flag was not given. StackSets without the tag (made by hand or by an
    older clumio-org) are taken as they are: the next CreateStackSet/UpdateStackSet tags them."""
    tagged = stack_set_lineages(stack_sets)
    if not tagged:
        return Link()
    names = ", ".join(tagged)
    lineages = sorted(set(tagged.values()))
    if len(lineages) > 1:
        raise LineageError(
            "the managed StackSets carry different state lineages: "
            + "; ".join(f"{name} {lineage}" for name, lineage in tagged.items()),
            hint="each was deployed from a different state; onboard them from one state (fix the tag of the odd one "
                 "with `aws cloudformation update-stack-set … --tags`, or remove it from the config)")
    wanted = lineages[0]
    pull = (f"`clumio-org state pull` from the backend that holds lineage {wanted} (check `state:` in the config) and "
            f"`clumio-org state push` it to {where}")
    if state is not None and state.lineage == wanted:
        return Link()
    if is_fresh(state):
        if adopt:
            return Link(LinkAction.ADOPT, wanted, f"adopting StackSet {names} (state lineage {wanted}) into the new "
                                                  f"state at {where}")
        found = "there is no state" if state is None else f"the state there (lineage {state.lineage}) is empty"
        raise LineageError(
            f"StackSet {names} is managed by the clumio-org state of lineage {wanted}, but {found} at {where}",
            hint=f"use that deployment's state: {pull}; or, to take the StackSet over with a new state on purpose, "
                 f"run `clumio-org {command} --adopt`")
    assert state is not None
    if force:
        return Link(LinkAction.RELINK, wanted, f"re-linking the state at {where} from lineage {state.lineage} to "
                                               f"StackSet {names}'s lineage {wanted}")
    raise LineageError(
        f"the state at {where} has lineage {state.lineage}, but StackSet {names} carries lineage {wanted}: the "
        "state belongs to another deployment",
        hint=f"use this deployment's state: {pull}; to re-link this state to the StackSet on purpose, run "
             f"`clumio-org {command} --force`")
