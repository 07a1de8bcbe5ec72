"""Contract: the brownfield starting points the sandbox models (docs/reference/brownfield.md §1–§3), each pinned to
the fact it stands for, as a client sees it over the wire."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.contract.sandbox_helpers import CLUMIO_HEADERS

WORLDS = Path(__file__).resolve().parents[2] / "examples" / "sandbox"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def connections(sandbox) -> dict[tuple[str, str], dict]:
    response = requests.get(f"{sandbox.clumio_url}/connections/aws", params={"limit": "100"},
                            headers=CLUMIO_HEADERS, timeout=10)
    response.raise_for_status()
    return {(c["account_native_id"], c["aws_region"]): c for c in response.json()["_embedded"]["items"]}


def test_console_stack_set_is_listed_under_its_own_name_with_clumio_metadata_and_masked_secrets(sandbox_factory):
    """§1: a Clumio StackSet is recognised by its template's ClumioTemplateVersion metadata and its ClumioToken /
    RoleExternalId parameters, whatever its name; NoEcho values come back masked."""
    sandbox = sandbox_factory(WORLDS / "brownfield-console.yaml")
    cf = sandbox.client("cloudformation")
    names = [s["StackSetName"] for s in cf.list_stack_sets(Status="ACTIVE")["Summaries"]]
    assert names == ["ClumioManual"]
    described = cf.describe_stack_set(StackSetName="ClumioManual")["StackSet"]
    assert re.search(r"ClumioTemplateVersion['\"]?\s*:\s*['\"]?24\.3", described["TemplateBody"])
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params["ClumioToken"] == "****" and params["RoleExternalId"] == "****"
    # The console StackSet runs its own values, not the ones Clumio's org-deployment-parameters hands out now.
    assert sandbox.world.stack_set("ClumioManual").parameters["ClumioToken"] != sandbox.world.clumio.token


def test_console_stack_set_instances_are_stacks_named_after_the_stack_set_and_connections_point_at_them(
        sandbox_factory):
    """§2: an instance's stack is StackSet-<name>-<uuid>; Clumio's connection carries that stack's ARN and name
    (clumio-api.md §3.3 stack_arn / stack_name). The suspended account has no stack and no connection."""
    sandbox = sandbox_factory(WORLDS / "brownfield-console.yaml")
    cf = sandbox.client("cloudformation")
    summaries = cf.list_stack_instances(StackSetName="ClumioManual")["Summaries"]
    stacks = {(s["Account"], s["Region"]): s.get("StackId") for s in summaries}
    assert stacks[("730000000002", "us-east-1")] is None  # suspended: SKIPPED_SUSPENDED_ACCOUNT, no StackId
    conns = connections(sandbox)
    assert len(conns) == 2 * 7  # seven active member accounts, two regions; never the management account
    for (account, region), conn in conns.items():
        assert conn["connection_status"] == "connected"
        assert conn["stack_arn"] == stacks[(account, region)]
        assert re.fullmatch(rf"StackSet-ClumioManual-{_UUID}", conn["stack_name"])


def test_portal_connections_each_have_their_own_clumio_service_stack(sandbox_factory):
    """§3: the portal's "Add with CloudFormation" makes one stack per account and region, named ClumioService by
    default; its ARN is on the connection. No StackSet exists."""
    sandbox = sandbox_factory(WORLDS / "brownfield-portal.yaml")
    assert sandbox.client("cloudformation").list_stack_sets()["Summaries"] == []
    conns = connections(sandbox)
    assert set(conns) == {(a, r) for a in ("700000000001", "710000000001", "710000000002")
                          for r in ("us-east-1", "us-west-2")}
    for (account, region), conn in conns.items():
        assert conn["stack_name"] == "ClumioService"
        assert re.fullmatch(rf"arn:aws:cloudformation:{region}:{account}:stack/ClumioService/{_UUID}",
                            conn["stack_arn"])


@pytest.mark.parametrize("field", ["stack_arn", "stack_name"])
def test_terraform_connections_have_no_stack(sandbox_factory, field):
    """§3: Terraform's clumio_aws_connection with Clumio's module creates the resources without CloudFormation, so
    the connection names no stack."""
    sandbox = sandbox_factory(WORLDS / "brownfield-terraform.yaml")
    conns = connections(sandbox)
    assert set(conns) == {(a, "us-east-1") for a in ("720000000001", "720000000002", "720000000003")}
    assert {c[field] for c in conns.values()} == {None}
    assert {c["connection_status"] for c in conns.values()} == {"connected"}


def test_a_stack_set_instance_next_to_a_portal_stack_takes_the_connection_over(sandbox_factory):
    """§6: a connection Clumio migrates to a connection group keeps its id and stays connected; the stack it came
    from is reported as ``retired_stack_arn`` ("the stale CloudFormation stack when the connection was migrated to
    connection groups … has to be removed from AWS as well", clumio-python-sdk AWSConnection). Deleting that
    stack afterwards leaves the connection connected; deleting the stack in use unlinks it (§3)."""
    sandbox = sandbox_factory(WORLDS / "brownfield-portal.yaml")
    clumio, now = sandbox.world.clumio, sandbox.world.clock.now()
    before = connections(sandbox)[("710000000001", "us-east-1")]
    new = f"arn:aws:cloudformation:us-east-1:710000000001:stack/StackSet-clumio-org-{'0' * 8}-0000-4000-8000-" \
          f"{'0' * 12}/{'0' * 8}-0000-4000-8000-{'0' * 12}"
    clumio.stack_deployed("710000000001", "us-east-1", "24.4", new, now)
    after = connections(sandbox)[("710000000001", "us-east-1")]
    assert after["id"] == before["id"] and after["connection_status"] == "connected"
    assert after["created_timestamp"] == before["created_timestamp"]
    assert after["retired_stack_arn"] == before["stack_arn"] and after["stack_arn"] == new
    taken = sandbox.world.apply_event("delete-stack", {"account": "710000000001", "region": "us-east-1",
                                                       "stack_name": "ClumioService"})
    assert taken["status"] == "connected"
    assert connections(sandbox)[("710000000001", "us-east-1")]["retired_stack_arn"] is None
    # The same deletion where nothing took the connection over: backups stop.
    gone = sandbox.world.apply_event("delete-stack", {"account": "710000000002", "region": "us-east-1",
                                                      "stack_name": "ClumioService"})
    assert gone["status"] == "unlinked"
    assert connections(sandbox)[("710000000002", "us-east-1")]["connection_status"] == "unlinked"
