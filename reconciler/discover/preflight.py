"""Preflight: is the AWS organization and the Clumio account ready for what the desired state asks? Precise errors,
each with the command or setting that fixes it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.core.desired import CallAs, Desired
from reconciler.core.errors import PreflightError, ProviderError
from reconciler.core.live import Live, OrgTree
from reconciler.core.ports import STACKSETS_SERVICE_PRINCIPAL
from reconciler.discover.live import PortSet

ROLE_TEMPLATES = "https://s3.amazonaws.com/cloudformation-stackset-sample-templates-us-east-1"


@dataclass(frozen=True)
class Problem:
    message: str
    hint: str


def preflight(desired: Desired, ports: PortSet, live: Live | OrgTree) -> None:
    """Raise PreflightError naming every problem found (identity problems alone, since the rest would be noise)."""
    tree = live.org if isinstance(live, Live) else live
    problems = _identity(desired, tree)
    if not problems:
        problems = [*_organization(ports), *_caller(desired, ports, tree), *_regions(desired, ports, live),
                    *_ou_references(desired, tree), *_management_roles(desired, ports, tree),
                    *_clumio(ports, live)]
    if not problems:
        return
    if len(problems) == 1:
        raise PreflightError(problems[0].message, problems[0].hint)
    message = f"preflight found {len(problems)} problems:\n" + "\n".join(
        f"  {i}. {p.message}" for i, p in enumerate(problems, 1))
    error = PreflightError(message, "\n".join(f"{i}. {p.hint}" for i, p in enumerate(problems, 1)))
    error.problems = tuple(problems)  # type: ignore[attr-defined]
    raise error


def check_access(desired: Desired, ports: PortSet) -> None:
    """The cheap checks worth running before discovery (which a wrong caller cannot even start): the organization
    and management account the credentials reach, and whether the caller may drive StackSets as configured.
    Uses only calls discovery and preflight make anyway (cached by the provider)."""
    info = ports.org.describe_organization()
    tree = OrgTree(org_id=info.id, management_account=info.management_account, root_id="", ous={}, accounts={})
    problems = _identity(desired, tree) or _caller(desired, ports, tree)
    if problems:
        raise PreflightError(problems[0].message, problems[0].hint)


def _identity(desired: Desired, tree: OrgTree) -> list[Problem]:
    spec = desired.organization
    found: list[Problem] = []
    if tree.org_id != spec.id:
        found.append(Problem(
            f"the AWS credentials reach organization {tree.org_id}, but the config says organization.id {spec.id}",
            "run with credentials of the intended organization (check AWS_PROFILE), or fix organization.id"))
    elif tree.management_account != spec.management_account:
        found.append(Problem(
            f"organization {tree.org_id} has management account {tree.management_account}, but the config says "
            f"organization.management_account {spec.management_account}",
            f"set organization.management_account: \"{tree.management_account}\""))
    return found


def _organization(ports: PortSet) -> list[Problem]:
    found: list[Problem] = []
    info = ports.org.describe_organization()
    if info.feature_set != "ALL":
        found.append(Problem(
            f"organization {info.id} has feature set {info.feature_set}; service-managed StackSets need ALL",
            "enable all features: `aws organizations enable-all-features` from the management account"))
    if not ports.org.service_access_enabled(STACKSETS_SERVICE_PRINCIPAL):
        found.append(Problem(
            "StackSets trusted access with AWS Organizations is disabled",
            "from the management account run `aws organizations enable-aws-service-access --service-principal "
            f"{STACKSETS_SERVICE_PRINCIPAL}` (or CloudFormation console → StackSets → Activate trusted access)"))
    return found


def _caller(desired: Desired, ports: PortSet, tree: OrgTree) -> list[Problem]:
    caller = ports.org.caller_account()
    call_as = desired.organization.call_as
    if caller == tree.management_account:
        if call_as is CallAs.DELEGATED_ADMIN:
            return [Problem(
                f"the caller {caller} is the management account, but the config says call_as: DELEGATED_ADMIN",
                "set organization.call_as: SELF, or run with the delegated administrator's credentials")]
        return []
    try:
        admins = ports.org.delegated_administrators(STACKSETS_SERVICE_PRINCIPAL)
    except ProviderError:
        admins = frozenset()  # Organizations refuses the list to accounts that are not admins themselves
    if caller not in admins:
        registered = ", ".join(sorted(admins)) or "none"
        return [Problem(
            f"the caller {caller} is neither the management account {tree.management_account} nor a registered "
            f"StackSets delegated administrator (registered: {registered})",
            f"from the management account run `aws organizations register-delegated-administrator --account-id "
            f"{caller} --service-principal {STACKSETS_SERVICE_PRINCIPAL}`, or use the management account's "
            "credentials (organization.assume_role_arn)")]
    if call_as is not CallAs.DELEGATED_ADMIN:
        return [Problem(
            f"the caller {caller} is a StackSets delegated administrator, but the config says call_as: SELF "
            "(StackSet calls would look in the caller's own account)",
            "set organization.call_as: DELEGATED_ADMIN")]
    return []


def _regions(desired: Desired, ports: PortSet, live: Live | OrgTree) -> list[Problem]:
    enabled = live.enabled_regions if isinstance(live, Live) and live.enabled_regions else None
    if enabled is None:
        enabled = ports.org.enabled_regions()
    wanted = sorted(set(desired.regions) | set(desired.rollout.region_order) | {desired.organization.home_region})
    missing = [r for r in wanted if r not in enabled]
    if not missing:
        return []
    return [Problem(
        f"region{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
        f"{'are' if len(missing) > 1 else 'is'} not enabled for the calling account",
        "enable it (`aws account enable-region --region-name REGION`, also in the target accounts) or remove it "
        "from regions")]


def _ou_refs(desired: Desired) -> Iterable[tuple[str, str]]:
    """(key as written in the file, OU reference) for every OU the file names."""
    for index, ref in enumerate(desired.targets.ous):
        yield f"targets.ous[{index}]", ref
    for index, ref in enumerate(desired.targets.exclude_ous):
        yield f"targets.exclude.ous[{index}]", ref
    for number, wave in enumerate(desired.rollout.waves):
        for index, ref in enumerate(wave.ous):
            yield f"rollout.waves[{number}].ous[{index}]", ref


def _ou_references(desired: Desired, tree: OrgTree) -> list[Problem]:
    found: list[Problem] = []
    paths = {tree.path_of(ou_id): ou_id for ou_id in tree.ous}
    for key, ref in _ou_refs(desired):
        if tree.resolve_ou(ref) is not None:
            continue
        where = desired.where(key)
        if ref.startswith("/"):
            close = difflib.get_close_matches(ref, list(paths), n=1, cutoff=0.6)
            kind = "path"
        else:
            close = difflib.get_close_matches(ref, [*tree.ous, tree.root_id], n=1, cutoff=0.6)
            kind = "id"
        listing = f"`aws organizations list-organizational-units-for-parent --parent-id {tree.root_id}`"
        suggestion = f"did you mean {close[0]}?" if close else f"list the OUs with {listing}"
        found.append(Problem(f"{where}: no OU with {kind} {ref} in organization {tree.org_id}", suggestion))
    return found


def _management_roles(desired: Desired, ports: PortSet, tree: OrgTree) -> list[Problem]:
    spec = desired.management_account
    if not spec.onboard:
        return []
    caller = ports.org.caller_account()
    found: list[Problem] = []
    if not ports.org.role_exists(spec.administration_role_name):
        found.append(Problem(
            f"the self-managed StackSet for the management account needs the role {spec.administration_role_name} "
            f"in the calling account {caller}",
            f"create it: `aws cloudformation create-stack --stack-name {spec.administration_role_name} "
            f"--template-url {ROLE_TEMPLATES}/AWSCloudFormationStackSetAdministrationRole.yml "
            "--capabilities CAPABILITY_NAMED_IAM` (or set management_account.administration_role_name)"))
    # The execution role lives in the management account; it can only be checked from there.
    if caller == tree.management_account and not ports.org.role_exists(spec.execution_role_name):
        found.append(Problem(
            f"the self-managed StackSet for the management account needs the role {spec.execution_role_name} in "
            f"the management account {tree.management_account}",
            f"create it: `aws cloudformation create-stack --stack-name {spec.execution_role_name} --template-url "
            f"{ROLE_TEMPLATES}/AWSCloudFormationStackSetExecutionRole.yml --parameters "
            f"ParameterKey=AdministratorAccountId,ParameterValue={caller} --capabilities CAPABILITY_NAMED_IAM`"))
    return found


def _clumio(ports: PortSet, live: Live | OrgTree) -> list[Problem]:
    # Discovery already read Clumio's latest template with the token: accepted then, no need to ask again.
    if isinstance(live, Live) and live.clumio_template is not None:
        return []
    try:
        ports.clumio.check_token()
    except PreflightError as error:
        return [Problem(error.message, error.hint or "check the Clumio API token")]
    return []
