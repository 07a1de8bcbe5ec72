"""Discovery then preflight on sandbox worlds over the wire: the demo world is ready (as the management account and
as the delegated admin); worlds that are not ready fail with the precise reason."""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from typing import Any

import pytest

from reconciler.core.desired import CallAs, Desired, ManagementAccountSpec
from reconciler.core.errors import PreflightError, ProviderError
from reconciler.core.live import Live
from reconciler.core.ports import STACKSETS_SERVICE_PRINCIPAL
from reconciler.discover.live import discover
from reconciler.discover.preflight import check_access, preflight
from reconciler.providers.factory import build_ports
from reconciler.sandbox.worldfile import default_world_path, load_world_spec
from tests.contract.test_provider_aws_sandbox import DELEGATED_ADMIN, MANAGEMENT, demo_desired


def use(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox


def world(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(load_world_spec(default_world_path()))
    for key, value in changes.items():
        spec[key] = {**spec.get(key, {}), **value}
    return spec


def run(desired: Desired) -> Live:
    ports = build_ports(desired)
    live = discover(desired, ports)
    preflight(desired, ports, live)
    return live


def test_demo_world_is_ready_for_the_management_account(sandbox_env: Any) -> None:
    desired = replace(demo_desired(sandbox_env), management_account=ManagementAccountSpec(onboard=True))
    live = run(desired)
    # What preflight approved: the configured organization, reached as its management account, every region enabled.
    assert (live.org.org_id, live.org.management_account) == (desired.organization.id, MANAGEMENT)
    assert build_ports(desired).org.caller_account() == MANAGEMENT
    assert set(desired.regions) <= live.enabled_regions
    # The same credentials configured as a delegated administrator are refused, so the check looked at the caller.
    flipped = replace(desired, organization=replace(desired.organization, call_as=CallAs.DELEGATED_ADMIN))
    with pytest.raises(PreflightError, match=f"the caller {MANAGEMENT} is the management account"):
        check_access(flipped, build_ports(flipped))


def test_demo_world_is_ready_for_the_delegated_admin(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    desired = demo_desired(sandbox_env, CallAs.DELEGATED_ADMIN)
    live = run(desired)
    ports = build_ports(desired)
    assert ports.org.caller_account() == DELEGATED_ADMIN != live.org.management_account
    assert DELEGATED_ADMIN in ports.org.delegated_administrators(STACKSETS_SERVICE_PRINCIPAL)
    # The same admin configured as call_as: SELF is refused, naming the setting to change.
    flipped = replace(desired, organization=replace(desired.organization, call_as=CallAs.SELF))
    with pytest.raises(PreflightError, match=f"the caller {DELEGATED_ADMIN} is a StackSets delegated admin") as error:
        check_access(flipped, build_ports(flipped))
    assert error.value.hint == "set organization.call_as: DELEGATED_ADMIN"


def test_trusted_access_off_is_caught(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = use(sandbox_factory(world(stacksets={"trusted_access": False})), monkeypatch)
    with pytest.raises(PreflightError) as error:
        run(demo_desired(sandbox))
    assert "trusted access" in error.value.message
    assert "enable-aws-service-access" in (error.value.hint or "")


def test_member_account_that_is_not_an_admin_is_caught_before_discovery(sandbox_factory: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = use(sandbox_factory(world(stacksets={"delegated_admins": []})), monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    desired = demo_desired(sandbox, CallAs.DELEGATED_ADMIN)
    ports = build_ports(desired)
    with pytest.raises(PreflightError) as error:
        check_access(desired, ports)
    assert f"the caller {DELEGATED_ADMIN} is neither the management account" in error.value.message
    assert f"register-delegated-administrator --account-id {DELEGATED_ADMIN}" in (error.value.hint or "")
    # Discovery alone also fails with the permission named and the way out.
    with pytest.raises(ProviderError) as denied:
        discover(desired, ports)
    assert "organizations:ListRoots" in denied.value.message
    assert "register-delegated-administrator" in (denied.value.hint or "")


def test_check_access_passes_for_the_management_account_at_no_extra_cost(sandbox_env: Any) -> None:
    desired = demo_desired(sandbox_env)
    ports = build_ports(desired)
    check_access(desired, ports)
    preflight(desired, ports, discover(desired, ports))
    assert ports.api_calls["sts.GetCallerIdentity"] == 1
    assert ports.api_calls["organizations.DescribeOrganization"] == 1


def test_region_not_enabled_is_caught(sandbox_env: Any) -> None:
    desired = replace(demo_desired(sandbox_env), regions=("us-east-1", "ap-northeast-1"))
    with pytest.raises(PreflightError, match="ap-northeast-1 is not enabled"):
        run(desired)


def test_missing_management_roles_are_caught(sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = use(sandbox_factory(world(organization={"management_roles": []})), monkeypatch)
    desired = replace(demo_desired(sandbox), management_account=ManagementAccountSpec(onboard=True))
    with pytest.raises(PreflightError) as error:
        run(desired)
    assert "AWSCloudFormationStackSetAdministrationRole" in error.value.message
    assert "AWSCloudFormationStackSetExecutionRole" in error.value.message
