"""What a StackSet call sends: the plan's definition (or the live one, unchanged), Clumio's template body checked
against the one the plan was reviewed with, the parameters with the secrets fetched at apply time, and the lineage
tag. Fetched once per run, before the first wave."""

from __future__ import annotations

from dataclasses import replace

from reconciler.apply import redact
from reconciler.apply.journal import Journal
from reconciler.apply.options import ApplyOptions
from reconciler.apply.params import ParameterSet, definition_from_live, stack_set_parameters
from reconciler.core.errors import ReconcilerError
from reconciler.core.live import LINEAGE_TAG
from reconciler.core.plan import Operation, OperationKind, Plan, StackSetDefinition
from reconciler.core.ports import Clumio, ClumioTemplate, DeploymentParameters, StackSets
from reconciler.state import JournalStatus

STACK_SET_KINDS = (OperationKind.CREATE_STACK_SET, OperationKind.UPDATE_STACK_SET)


class TemplateChanged(ReconcilerError):
    """Clumio now serves a template whose content differs from the one the plan was reviewed with."""


class StackSetSource:
    """The definitions, template and parameters the StackSet calls of one plan send."""

    def __init__(self, plan: Plan, clumio: Clumio, journal: Journal, options: ApplyOptions) -> None:
        self.plan = plan
        self.clumio = clumio
        self.journal = journal
        self.options = options
        self.definitions: dict[str, StackSetDefinition] = {c.stack_set: c.definition for c in plan.stack_set_changes}
        self.template: ClumioTemplate | None = None
        self.deployment: DeploymentParameters | None = None
        self._live: dict[str, tuple[StackSetDefinition, str]] = {}

    def prepare(self) -> None:
        """Fetch Clumio's template and deployment parameters when the plan writes a StackSet definition, and refuse
        if the template is not the one the plan was reviewed with."""
        pending = [op for op in self.plan.operations if op.kind in STACK_SET_KINDS and op.stack_set in self.definitions
                   and not _done(self.journal, op)]
        if not pending:
            return
        self.template = self.clumio.org_template(self.options.asset_types)
        for op in pending:
            definition = self.definition(op)
            if self.template.sha256 != definition.template_sha256:
                raise TemplateChanged(
                    "Clumio's template changed since the plan was made; re-run plan",
                    hint=f"the plan was made with template {definition.template_version} (sha256 "
                         f"{definition.template_sha256[:12]}…), Clumio now serves {self.template.version} (sha256 "
                         f"{self.template.sha256[:12]}…); run `clumio-org plan` again and review it",
                )
        self._deployment()

    def gate_versions(self) -> dict[str, str | None]:
        """The template version each StackSet's connections must report: the plan's definition, else what state
        says was deployed, else any."""
        versions: dict[str, str | None] = {
            name: record.template_version for name, record in self.journal.state.stack_sets.items()}
        versions.update({name: d.template_version for name, d in self.definitions.items()})
        return versions

    def parameters(self, definition: StackSetDefinition, *, creating: bool) -> ParameterSet:
        return stack_set_parameters(definition, self._deployment(), creating=creating,
                                    rotate=self.options.rotate_credentials,
                                    record=self.journal.state.stack_sets.get(definition.name))

    def body(self) -> str:
        assert self.template is not None, "prepare() fetches the template before a StackSet is written"
        return self.template.body

    def definition_and_body(self, port: StackSets, op: Operation) -> tuple[StackSetDefinition, str]:
        """The definition and template an UpdateStackSet sends. A plan that only re-pushes OUTDATED instances
        (a new OperationId retries them, §A4) carries no definition: then the StackSet's live definition and
        template are sent back unchanged, with the NoEcho values as UsePreviousValue."""
        if op.stack_set in self.definitions:
            return self.definitions[op.stack_set], self.body()
        if op.stack_set not in self._live:
            live = port.describe_stack_set(op.stack_set)
            if live is None:
                raise ReconcilerError(f"StackSet {op.stack_set} does not exist, but the plan updates it",
                                      hint="someone deleted it since the plan was made; re-run plan")
            record = self.journal.state.stack_sets.get(op.stack_set)
            self._live[op.stack_set] = (definition_from_live(live, record), live.template_body)
        return self._live[op.stack_set]

    def tagged(self, definition: StackSetDefinition) -> StackSetDefinition:
        """The definition as sent: its tags plus the state's lineage (LINEAGE_TAG), which ties the StackSet to this
        state; UpdateStackSet replaces the tag list, so every call carries it."""
        tags = {**dict(definition.tags), LINEAGE_TAG: self.journal.state.lineage}
        return replace(definition, tags=tuple(sorted(tags.items())))

    def definition(self, op: Operation) -> StackSetDefinition:
        try:
            return self.definitions[op.stack_set]
        except KeyError:
            raise ReconcilerError(f"the plan has {op.kind.value} for {op.stack_set} but no definition of it",
                                  hint="the plan file is damaged; re-run plan") from None

    def _deployment(self) -> DeploymentParameters:
        if self.deployment is None:
            self.deployment = self.clumio.org_deployment_parameters(self.options.org_id)
            redact.remember(self.deployment.token, self.deployment.external_id)
        return self.deployment


def _done(journal: Journal, op: Operation) -> bool:
    entry = journal.entry(op.operation_id)
    return entry is not None and entry.status is JournalStatus.SUCCEEDED
