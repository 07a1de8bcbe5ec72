"""`clumio-org init [FILE]`: read the live organization (read only) and write a commented starter config; refuses to
overwrite a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import DEFAULT_CONFIG
from reconciler.core.desired import (
    CallAs,
    ClumioSpec,
    Desired,
    ManagementAccountSpec,
    OrganizationSpec,
    RolloutSpec,
    StackSetSpec,
    StateSpec,
    TargetsSpec,
)
from reconciler.core.errors import ReconcilerError


def bootstrap_desired(home_region: str, call_as: CallAs, api_url: str | None, portal: str,
                      token_env: str) -> Desired:
    """Just enough of a Desired to build the ports: where to call and as whom (the org is what init reads)."""
    from reconciler.config.portals import api_url_for_portal

    url = api_url or api_url_for_portal(portal)
    if url is None:
        raise ReconcilerError(f"--portal {portal} is not a Clumio portal",
                              hint="use west, east, canada, eu1 or au, or --api-url")
    return Desired(
        organization=OrganizationSpec(id="o-unknown", management_account="000000000000", home_region=home_region,
                                      call_as=call_as),
        clumio=ClumioSpec(api_url=url, token_env=token_env), stack_set=StackSetSpec(), targets=TargetsSpec(),
        regions=(home_region,), rollout=RolloutSpec(), management_account=ManagementAccountSpec(),
        state=StateSpec(), source="<init>")


def gather_facts(desired: Desired, ports: Any, *, api_url: str | None, portal: str) -> Any:
    """Every read init makes: the org tree, enabled regions, Clumio connections, and Clumio StackSets."""
    from reconciler.cli.init_config import OrgFacts
    from reconciler.discover.existing import discover_other_stack_sets
    from reconciler.discover.live import listing_ports

    tree = ports.org.read_tree()
    return OrgFacts(
        tree=tree, home_region=desired.organization.home_region, enabled_regions=ports.org.enabled_regions(),
        connections=ports.clumio.list_connections(sorted(tree.accounts)),
        clumio_stack_sets=discover_other_stack_sets(listing_ports(desired, ports), ()),
        call_as=desired.organization.call_as.value, api_url=api_url, portal=portal,
        token_env=desired.clumio.token_env, latest_template=ports.clumio.latest_template().version)


def run_init(path: Path, *, home_region: str, call_as: CallAs = CallAs.SELF, api_url: str | None = None,
             portal: str = "west", token_env: str = "CLUMIO_API_TOKEN", ports: Any = None,
             echo: Any = typer.echo) -> int:
    from reconciler.cli.init_config import adopted, render_starter_config

    if path.exists():
        raise ReconcilerError(f"{path} already exists; init never overwrites a file",
                              hint="pass another FILE, or move the existing one away first")
    desired = bootstrap_desired(home_region, call_as, api_url, portal, token_env)
    if ports is None:
        from reconciler.providers.factory import build_ports

        ports = build_ports(desired)
    facts = gather_facts(desired, ports, api_url=api_url, portal=portal)
    text = render_starter_config(facts)
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": refuses a file created meanwhile, too
            out.write(text)
    except FileExistsError:
        raise ReconcilerError(f"{path} already exists; init never overwrites a file",
                              hint="pass another FILE, or move the existing one away first") from None
    except OSError as error:
        raise ReconcilerError(f"cannot write {path}: {error.strerror}", hint="pick a writable path") from None
    tree = facts.tree
    echo(f"Wrote {path}: organization {tree.org_id}, {len(tree.accounts)} accounts in {len(tree.ous)} OUs.")
    found = adopted(facts)
    if found is not None:
        echo(f"Found Clumio StackSet {found.stack_set.name}: the config names it; adopt it with "
             f"`clumio-org import --stack-set {found.stack_set.name} -c {path}` before the first apply.")
    echo(f"Next: review it, then `clumio-org validate {path}` and `clumio-org plan -c {path}`.")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_command(
        file: Path = typer.Argument(Path(DEFAULT_CONFIG), help="Where to write the starter config (never "
                                                               "overwritten)."),
        home_region: str = typer.Option(
            None, "--home-region", help="The StackSet home region. Default: $AWS_REGION, $AWS_DEFAULT_REGION, "
                                        "then us-east-1.", show_default=False),
        delegated_admin: bool = typer.Option(False, "--delegated-admin",
                                             help="Call as the StackSets delegated administrator."),
        portal: str = typer.Option("west", "--portal", help="Clumio portal: west, east, canada, eu1, au."),
        api_url: str | None = typer.Option(None, "--api-url", help="Clumio API base URL (instead of --portal)."),
        token_env: str = typer.Option("CLUMIO_API_TOKEN", "--token-env",
                                      help="NAME of the environment variable holding the Clumio API token."),
    ) -> None:
        """Read the live organization (read only) and write a commented starter config."""
        region = home_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        run_init(file, home_region=region, call_as=CallAs.DELEGATED_ADMIN if delegated_admin else CallAs.SELF,
                 api_url=api_url, portal=portal, token_env=token_env)
