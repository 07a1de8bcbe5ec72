"""Preflight on in-memory ports: each way an organization or Clumio account is not ready gives a precise error and a
hint that fixes it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.desired import CallAs, Desired, ManagementAccountSpec, RolloutSpec
from reconciler.core.errors import PreflightError
from reconciler.core.ports import STACKSETS_SERVICE_PRINCIPAL
from reconciler.discover.live import discover
from reconciler.discover.preflight import preflight
from tests.fakes import MANAGEMENT, FakePorts, demo_org, fake_ports, make_desired, wave

ADMIN = "222200000001"
ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXEC_ROLE = "AWSCloudFormationStackSetExecutionRole"


def check(desired: Desired, ports: FakePorts) -> PreflightError | None:
    try:
        preflight(desired, ports, discover(desired, ports))
    except PreflightError as error:
        return error
    return None


def test_a_ready_organization_passes() -> None:
    assert check(make_desired(organization=True), fake_ports()) is None


def test_wrong_organization_id_is_reported_alone() -> None:
    desired = make_desired(organization=True)
    desired = replace(desired, organization=replace(desired.organization, id="o-other00001"))
    error = check(desired, fake_ports(trusted_access=False))
    assert error is not None and "o-fake000001" in error.message and "o-other00001" in error.message
    assert "trusted access" not in error.message  # identity problems make the rest noise


def test_wrong_management_account_names_the_real_one() -> None:
    desired = make_desired(organization=True)
    desired = replace(desired, organization=replace(desired.organization, management_account="999999999999"))
    error = check(desired, fake_ports())
    assert error is not None and error.hint == f'set organization.management_account: "{MANAGEMENT}"'


def test_disabled_trusted_access_hints_the_enable_command() -> None:
    error = check(make_desired(organization=True), fake_ports(trusted_access=False))
    assert error is not None and "trusted access" in error.message
    assert error.hint and ("aws organizations enable-aws-service-access --service-principal "
                           f"{STACKSETS_SERVICE_PRINCIPAL}") in error.hint


def test_caller_neither_management_nor_delegated_admin_hints_registration() -> None:
    error = check(make_desired(organization=True, call_as=CallAs.DELEGATED_ADMIN), fake_ports(caller=ADMIN))
    assert error is not None and "neither the management account" in error.message
    assert error.hint and f"register-delegated-administrator --account-id {ADMIN}" in error.hint


def test_delegated_admin_calling_as_self_is_told_to_use_delegated_admin() -> None:
    error = check(make_desired(organization=True), fake_ports(caller=ADMIN, delegated_admins=[ADMIN]))
    assert error is not None and "call_as: SELF" in error.message
    assert error.hint == "set organization.call_as: DELEGATED_ADMIN"


def test_registered_delegated_admin_with_call_as_passes() -> None:
    desired = make_desired(organization=True, call_as=CallAs.DELEGATED_ADMIN)
    assert check(desired, fake_ports(caller=ADMIN, delegated_admins=[ADMIN])) is None


def test_management_account_calling_as_delegated_admin_is_refused() -> None:
    error = check(make_desired(organization=True, call_as=CallAs.DELEGATED_ADMIN), fake_ports())
    assert error is not None and "set organization.call_as: SELF" in (error.hint or "")


def test_region_not_enabled_is_named() -> None:
    error = check(make_desired(organization=True, regions=("us-east-1", "ap-east-1")), fake_ports())
    assert error is not None and "ap-east-1 is not enabled" in error.message
    assert error.hint and "enable-region" in error.hint


def test_unknown_ou_path_suggests_the_closest_one() -> None:
    error = check(make_desired(ous=["/Workloads/Prd"]), fake_ports())
    assert error is not None and "targets.ous[0]: no OU with path /Workloads/Prd" in error.message
    assert error.hint == "did you mean /Workloads/Prod?"


def test_unknown_ou_id_in_a_wave_is_reported_with_where_it_is() -> None:
    desired = make_desired(organization=True, waves=[wave("canary", ous=["ou-fake-prdwork"]), wave("rest", rest=True)])
    error = check(desired, fake_ports())
    assert error is not None and "rollout.waves[0].ous[0]: no OU with id ou-fake-prdwork" in error.message
    assert error.hint == "did you mean ou-fake-prodwork?"


def test_ou_paths_are_case_insensitive_and_ids_resolve() -> None:
    desired = make_desired(ous=["/workloads/prod", "ou-fake-devwork1"], exclude_ous=["/Sandbox"])
    assert check(desired, fake_ports()) is None


def test_missing_management_onboarding_roles_say_how_to_create_them() -> None:
    desired = replace(make_desired(organization=True), management_account=ManagementAccountSpec(onboard=True))
    error = check(desired, fake_ports(roles=[ADMIN_ROLE]))
    assert error is not None and EXEC_ROLE in error.message
    assert error.hint and "AWSCloudFormationStackSetExecutionRole.yml" in error.hint
    assert f"AdministratorAccountId,ParameterValue={MANAGEMENT}" in error.hint
    assert check(desired, fake_ports(roles=[ADMIN_ROLE, EXEC_ROLE])) is None


def test_several_problems_are_listed_together() -> None:
    desired = replace(make_desired(regions=("us-east-1", "me-south-1"), ous=["/Nope"]),
                      rollout=RolloutSpec())
    error = check(desired, fake_ports(trusted_access=False))
    assert error is not None and error.message.startswith("preflight found 3 problems:")
    assert len(error.problems) == 3  # type: ignore[attr-defined]


def test_rejected_clumio_token_fails_preflight_when_not_yet_checked() -> None:
    ports = fake_ports()
    ports.clumio.token_ok = False
    with pytest.raises(PreflightError):
        preflight(make_desired(organization=True), ports, demo_org())
