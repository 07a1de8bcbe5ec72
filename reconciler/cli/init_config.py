"""The commented starter config `clumio-org init` writes, from what it read of the live organization (no I/O here)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.core.live import AccountState, Connection, OrgTree, OtherClumioStackSet, PermissionModel
from reconciler.plan.coverage import stack_name_of, stack_set_of_stack

CANARY_HINTS = ("canary", "test", "pilot")
_BOOL = {"true": True, "false": False}


@dataclass(frozen=True)
class OrgFacts:
    """What init read, read-only: the organization, the regions, Clumio's connections and Clumio StackSets."""

    tree: OrgTree
    home_region: str
    enabled_regions: frozenset[str]
    connections: Sequence[Connection]
    clumio_stack_sets: Mapping[str, OtherClumioStackSet]
    call_as: str = "SELF"
    api_url: str | None = None
    portal: str = "west"
    token_env: str = "CLUMIO_API_TOKEN"
    latest_template: str | None = None
    warnings: list[str] = field(default_factory=list)


def _q(value: str) -> str:
    """A YAML scalar that stays a string (account ids keep leading zeros, '24.4' stays text)."""
    return json.dumps(value)


def _members(tree: OrgTree, ou: str) -> list[str]:
    return sorted(a for a in tree.accounts_under(ou)
                  if a != tree.management_account and tree.accounts[a].state is AccountState.ACTIVE)


def canary_ou(tree: OrgTree) -> str | None:
    """A small OU for the first wave: one whose name says canary/test/pilot, else the smallest with an active member
    account (ties: the shortest path), so the first wave reaches few accounts."""
    candidates = [(ou, len(_members(tree, ou))) for ou in tree.ous if _members(tree, ou)]
    if not candidates:
        return None
    named = [c for c in candidates if any(h in tree.ous[c[0]].name.lower() for h in CANARY_HINTS)]
    pool = named or candidates
    return min(pool, key=lambda c: (c[1], tree.path_of(c[0]), c[0]))[0]


def adopted(facts: OrgFacts) -> OtherClumioStackSet | None:
    """The service-managed Clumio StackSet to adopt: the one with the most instances."""
    sets = [s for s in facts.clumio_stack_sets.values()
            if s.stack_set.permission_model is PermissionModel.SERVICE_MANAGED]
    return max(sets, key=lambda s: (len(s.instances), s.stack_set.name), default=None)


def regions_in_use(facts: OrgFacts) -> tuple[list[str], str]:
    """Where Clumio already is (connections, Clumio StackSet instances and regions), else every enabled region."""
    used = {c.region for c in facts.connections}
    for other in facts.clumio_stack_sets.values():
        used |= {r for _, r in other.instances} | set(other.stack_set.regions)
    if used:
        return sorted(used), "where Clumio connections or stack instances already are"
    return sorted(facts.enabled_regions or {facts.home_region}), "every region enabled in the organization"


def _targets(facts: OrgFacts, found: OtherClumioStackSet | None) -> list[str]:
    tree = facts.tree
    ous = list(found.stack_set.organizational_unit_ids) if found else []
    own = [c for c in facts.connections if stack_set_of_stack(stack_name_of(c)) is None]
    # Connections made outside any StackSet stay as they are until the user chooses to move them (brownfield.md §6).
    existing = ["  existing_connections: leave       # move: put them on the StackSet (new stack next to the old; "
                "delete the old one once Clumio shows the takeover)"] if own else []
    if not ous or tree.root_id in ous:
        return ["targets:", "  organization: true                # every account (minus the management account)",
                *existing]
    paths = sorted(tree.path_of(ou) for ou in ous if ou in tree.ous)
    return ["targets:", f"  ous:                              # the OUs {found.stack_set.name if found else ''} "
            "targets now", *[f"    - {_q(p)}" for p in paths], *existing]


def _template_version(found: OtherClumioStackSet | None, latest: str | None) -> list[str]:
    if found is None or not found.template_version:
        return ["  template_version: latest         # or pin one, e.g. \"24.4\""]
    note = f"; set latest to take Clumio's newest ({latest})" if latest and latest != found.template_version else ""
    return [f"  template_version: {_q(found.template_version)}         # what {found.stack_set.name} runs now{note}"]


def _stack_set(found: OtherClumioStackSet | None) -> list[str]:
    if found is None:
        return ["stack_set:", "  name: clumio-org"]
    ss = found.stack_set
    p = ss.parameters
    lines = ["stack_set:",
             f"  # Found: Clumio StackSet {ss.name} (template {found.template_version or 'unknown'}, "
             f"{len(found.instances)} stack instance(s)). Adopt it before the first apply:",
             f"  #   clumio-org import --stack-set {ss.name}",
             "  # Its settings below are copied from AWS, so adopting it changes nothing but what you edit.",
             f"  name: {ss.name}",
             f"  description: {_q(ss.description)}"]
    if "SendCFTDeploymentEventsToClumio" in p:
        lines.append(f"  send_deployment_events: {str(p['SendCFTDeploymentEventsToClumio'] == 'True').lower()}")
    if p.get("PermissionsBoundaryARN"):
        lines.append(f"  permissions_boundary_arn: {_q(p['PermissionsBoundaryARN'])}")
    if ss.auto_deployment is not None:
        lines.append(f"  auto_deployment: {{enabled: {str(ss.auto_deployment).lower()}, "
                     f"retain_stacks_on_account_removal: {str(bool(ss.retain_stacks_on_account_removal)).lower()}}}")
    lines.append(f"  managed_execution: {str(ss.managed_execution).lower()}")
    if ss.tags:
        lines.append("  tags:")
        lines += [f"    {_q(k)}: {_q(v)}" for k, v in ss.tags]
    return lines


def _found_comments(facts: OrgFacts, found: OtherClumioStackSet | None) -> list[str]:
    out: list[str] = []
    for name, other in sorted(facts.clumio_stack_sets.items()):
        if found is not None and name == found.stack_set.name:
            continue
        out.append(f"# Also found: Clumio StackSet {name} ({other.stack_set.permission_model.value}, "
                   f"{len(other.instances)} instance(s)); its accounts are left alone.")
    own = [c for c in facts.connections if stack_set_of_stack(stack_name_of(c)) is None]
    if own:
        by = sorted({stack_name_of(c) or "no CloudFormation stack (Terraform or manual)" for c in own})
        out.append(f"# Found {len(own)} Clumio connection(s) made outside any StackSet ({'; '.join(by)}): plan "
                   "leaves them alone and deploys no second Clumio there (targets.existing_connections below).")
    return out


def _management(facts: OrgFacts) -> list[str]:
    mgmt = facts.tree.management_account
    conns = [c for c in facts.connections if c.account == mgmt]
    if conns:
        return ["management_account:",
                f"  onboard: false                   # already connected to Clumio ({len(conns)} region(s), "
                f"{stack_name_of(conns[0]) or 'no stack'})"]
    return ["management_account:",
            "  onboard: false                   # true: a self-managed StackSet onboards the management account"]


def _rollout(facts: OrgFacts) -> list[str]:
    ou = canary_ou(facts.tree)
    lines = ["rollout:", "  region_concurrency: parallel", "  waves:"]
    if ou is not None:
        path = facts.tree.path_of(ou)
        lines += [f"    - name: canary                   # a small OU first ({len(_members(facts.tree, ou))} "
                  "account(s))", f"      ous: [{_q(path)}]", "      max_concurrent: 1", "      failure_tolerance: 0"]
    lines += ["    - name: rest", "      rest: true", '      max_concurrent: "25%"', '      failure_tolerance: "10%"',
              "      concurrency_mode: soft", "  verify_connections:", "    timeout_seconds: 900"]
    return lines


def render_starter_config(facts: OrgFacts, *, schema_hint: str = "desired-state.schema.json") -> str:
    """The YAML text: every value drawn from the live organization, each section commented."""
    tree = facts.tree
    found = adopted(facts)
    regions, why = regions_in_use(facts)
    clumio = [f"  api_url: {facts.api_url}"] if facts.api_url else [
        f"  portal: {facts.portal}                     # west|east|canada|eu1|au: the portal your Clumio account uses"]
    lines = [
        f"# yaml-language-server: $schema={schema_hint}",
        "#",
        f"# Starter desired state written by `clumio-org init` from organization {tree.org_id} (read only).",
        "# Review it, then: clumio-org validate, clumio-org plan. Nothing here is a secret: the Clumio API token",
        "# comes from the environment variable clumio.token_env names.",
        *_found_comments(facts, found),
        "version: 1",
        "",
        "organization:",
        f"  id: {tree.org_id}",
        f"  management_account: {_q(tree.management_account)}",
        f"  home_region: {facts.home_region}                # where the StackSet lives",
        *([f"  call_as: {facts.call_as}"] if facts.call_as != "SELF" else []),
        "",
        "clumio:",
        *clumio,
        f"  token_env: {facts.token_env}",
        "  asset_types: [EC2/EBS, RDS, DynamoDB, S3]",
        *_template_version(found, facts.latest_template),
        "",
        *_stack_set(found),
        "",
        *_targets(facts, found),
        "",
        f"regions:                           # {why}",
        *[f"  - {r}" for r in regions],
        "",
        *_rollout(facts),
        "",
        *_management(facts),
        "",
        "state:",
        "  backend: local                   # or s3 (bucket, key) for a team or CI",
        "  path: .clumio-org/state.json",
    ]
    ous = sorted(tree.path_of(ou) for ou in tree.ous)
    lines += ["", "# OUs in this organization (for targets, exclusions and waves):", *[f"#   {p}" for p in ous]]
    return "\n".join(lines) + "\n"
