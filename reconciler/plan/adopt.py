"""Adopt: whether ``clumio-org import`` may adopt a live StackSet under the config (pure;
docs/reference/brownfield.md §4). What it then records in state is ``reconciler.state.adopt``.
"""

from __future__ import annotations

from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError
from reconciler.core.live import Live, LiveStackSet, PermissionModel


def adoptable_names(desired: Desired) -> dict[str, PermissionModel]:
    """The StackSets the config manages, each with the permission model it must have."""
    names = {desired.stack_set.name: PermissionModel.SERVICE_MANAGED}
    if desired.management_account.onboard:
        names[desired.management_account.stack_set_name] = PermissionModel.SELF_MANAGED
    return names


def check_adoptable(desired: Desired, live: Live, name: str) -> LiveStackSet:
    """The live StackSet ``name``, if the config manages that name and it is a Clumio StackSet of the right
    permission model; otherwise the error that says what to change."""
    wanted = adoptable_names(desired)
    if name not in wanted:
        raise ReconcilerError(
            f"import --stack-set {name}: the config manages StackSet {desired.stack_set.name}, not {name}",
            hint=f"StackSets cannot be renamed: to manage {name} under its own name set `stack_set.name: {name}` in "
                 f"{desired.source}, then run `clumio-org import --stack-set {name}` again")
    ss = live.stack_sets.get(name)
    if ss is None:
        others = ", ".join(sorted(live.other_clumio_stack_sets)) or "none"
        raise ReconcilerError(
            f"StackSet {name} does not exist in {desired.organization.home_region} (Clumio StackSets found: {others})",
            hint="check organization.home_region and organization.call_as; a StackSet lives in one region")
    if not ss.is_clumio:
        raise ReconcilerError(
            f"StackSet {name} does not carry Clumio's template (no ClumioTemplateVersion metadata, or no "
            "ClumioToken / RoleExternalId parameters)",
            hint="import adopts only Clumio StackSets; pick another stack_set.name for clumio-org's own")
    if ss.permission_model is not wanted[name]:
        raise ReconcilerError(
            f"StackSet {name} is {ss.permission_model.value}, but clumio-org manages it as {wanted[name].value}",
            hint="the permission model cannot change while instances exist; adopt a StackSet of the right model")
    return ss
