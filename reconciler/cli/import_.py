"""`clumio-org import --stack-set NAME`: bring a Clumio StackSet that already runs under management, changing nothing
in AWS, and show what the next plan would change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import ConfigOption, load_config
from reconciler.core.desired import Desired


def run_import(desired: Desired, stack_set: str, *, ports: Any = None, backend: Any = None,
               echo: Any = typer.echo, force: bool = False) -> int:
    """Record the live StackSet in state (under the state lock) and print the next plan. Reads AWS and Clumio; the
    only write is the state file. No org-deployment-parameters call: the deployed ClumioToken and RoleExternalId
    stay, sent as UsePreviousValue by every later apply."""
    from reconciler.discover.live import discover
    from reconciler.plan.adopt import check_adoptable
    from reconciler.plan.build import make_plan
    from reconciler.render.text import render_plan
    from reconciler.state.adopt import adopt
    from reconciler.state.lineage import LinkAction, check_lineage
    from reconciler.state.model import State, utc_now

    if ports is None:
        from reconciler.providers.factory import build_ports

        ports = build_ports(desired)
    if backend is None:
        from reconciler.state import open_backend

        backend = open_backend(desired)
    live = discover(desired, ports)
    ss = check_adoptable(desired, live, stack_set)
    count = sum(1 for k in live.instances if k.stack_set == stack_set)
    with backend.lock("import"):
        stored = backend.read()
        if stored is not None and stack_set in stored.stack_sets:
            state = stored
            echo(f"StackSet {stack_set} is already managed by the state at {backend.describe()}; nothing to import.")
        else:
            # A StackSet another clumio-org state deploys carries its lineage tag: importing it is the explicit
            # adoption, so a fresh state takes that lineage; a state of another lineage needs --force.
            link = check_lineage({stack_set: ss}, stored, backend.describe(), adopt=True, force=force,
                                 command="import")
            base = stored if stored is not None else State.new()
            if link.action is not LinkAction.NONE and link.lineage is not None:
                from dataclasses import replace

                base = replace(base, lineage=link.lineage)
                echo(link.note or f"taking lineage {link.lineage}")
            state = backend.write(adopt(base, live, ss, utc_now()), force=link.action is not LinkAction.NONE)
            regions = sorted({k.region for k in live.instances if k.stack_set == stack_set})
            echo(f"Imported StackSet {stack_set} ({ss.permission_model.value}, template "
                 f"{state.stack_sets[stack_set].template_version}, {count} stack instance(s) in "
                 f"{', '.join(regions) or 'no region'}) into the state at {backend.describe()} "
                 f"(serial {state.serial}).")
            echo("Nothing was changed in AWS. Its ClumioToken and RoleExternalId stay as deployed: apply sends them "
                 "as UsePreviousValue (clumio-org did not ask Clumio for new values); `apply --rotate-credentials` "
                 "is the only way to replace them.")
    template = ports.clumio.org_template(desired.clumio.asset_types)
    plan = make_plan(desired, live, template=template, state=state)
    echo("")
    echo("What the next `clumio-org plan` would change:")
    echo(render_plan(plan).rstrip("\n"))
    return 0


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_command(
        stack_set: str = typer.Option(..., "--stack-set", help="The existing Clumio StackSet to adopt; it must be "
                                                               "the config's stack_set.name (or the management "
                                                               "account's StackSet name)."),
        config: Path | None = ConfigOption,
        force: bool = typer.Option(False, "--force", help="The state has another lineage than the StackSet's tag: "
                                                          "re-link it on purpose."),
    ) -> None:
        """Adopt an existing Clumio StackSet: record what is live in state, change nothing in AWS, and show what
        the next plan would change."""
        run_import(load_config(config), stack_set, force=force)
