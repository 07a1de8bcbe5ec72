"""The StackSet parameters apply sends: the plan's non-secret values plus ClumioToken and RoleExternalId fetched from
Clumio at apply time, as NoEcho values on create and as UsePreviousValue on updates unless rotating."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.core.live import LiveStackSet
from reconciler.core.plan import StackSetDefinition
from reconciler.core.ports import DeploymentParameters, TemplateParameter
from reconciler.core.secrets import Secret
from reconciler.core.template import CLUMIO_TOKEN, ROLE_EXTERNAL_ID, SECRET_PARAMETERS
from reconciler.state import StackSetRecord


@dataclass(frozen=True)
class ParameterSet:
    """What to send, and which secret values were sent (None: UsePreviousValue, nothing new to fingerprint)."""

    parameters: tuple[TemplateParameter, ...]
    secrets_sent: Mapping[str, Secret] | None
    rotated: bool = False


def secrets_of(deployment: DeploymentParameters) -> dict[str, Secret]:
    return {CLUMIO_TOKEN: deployment.token, ROLE_EXTERNAL_ID: deployment.external_id}


def needs_rotation(deployment: DeploymentParameters, record: StackSetRecord | None) -> bool:
    """True when state remembers fingerprints and Clumio now hands out different values (Clumio rotated them).

    With no fingerprints in state (a StackSet created before clumio-org managed it) we cannot tell, and keep the
    deployed values: sending new secrets to every account is what ``--rotate-credentials`` is for.
    """
    if record is None or not record.secret_fingerprints:
        return False
    fetched = secrets_of(deployment)
    return any(record.secret_fingerprints.get(name) not in (None, value.fingerprint())
               for name, value in fetched.items())


def stack_set_parameters(definition: StackSetDefinition, deployment: DeploymentParameters, *, creating: bool,
                         rotate: bool, record: StackSetRecord | None) -> ParameterSet:
    """The full parameter list (UpdateStackSet needs every key, or omitted ones fall back to defaults)."""
    plain = [TemplateParameter(key, value) for key, value in definition.parameters if key not in SECRET_PARAMETERS]
    secrets = secrets_of(deployment)
    if creating:
        return ParameterSet(tuple(plain + [TemplateParameter(k, v) for k, v in secrets.items()]), secrets)
    rotating = rotate or needs_rotation(deployment, record)
    if rotating:
        return ParameterSet(tuple(plain + [TemplateParameter(k, v) for k, v in secrets.items()]), secrets, True)
    return ParameterSet(tuple(plain + [TemplateParameter(k, use_previous=True) for k in SECRET_PARAMETERS]), None)


def definition_from_live(live: LiveStackSet, record: StackSetRecord | None) -> StackSetDefinition:
    """The StackSet as it is, to send back unchanged (secrets excluded: they travel as UsePreviousValue)."""
    version = record.template_version if record else None
    if version is None:
        version = live.template_version or "unknown"
    return StackSetDefinition(
        name=live.name, permission_model=live.permission_model, description=live.description,
        template_version=version, template_sha256=live.template_sha256,
        parameters=tuple(sorted((k, v) for k, v in live.parameters.items() if k not in SECRET_PARAMETERS)),
        capabilities=live.capabilities, tags=live.tags, auto_deployment=live.auto_deployment,
        retain_stacks_on_account_removal=live.retain_stacks_on_account_removal,
        managed_execution=live.managed_execution, administration_role_arn=live.administration_role_arn,
        execution_role_name=live.execution_role_name)
