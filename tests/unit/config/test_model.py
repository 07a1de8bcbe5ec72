"""What comes out of a valid file: the frozen Desired model, with the seed's recommended defaults filled in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from reconciler.core.desired import (
    Amount,
    CallAs,
    ConcurrencyMode,
    RegionConcurrencyType,
)
from reconciler.files.config import load_desired
from tests.unit.config.helpers import VALID, variant, write

ROOT = Path(__file__).parents[3]


def test_minimal_file_gets_the_recommended_defaults(tmp_path: Path) -> None:
    desired = load_desired(write(tmp_path, VALID), env={})
    assert desired.stack_set.auto_deployment is True
    assert desired.stack_set.send_deployment_events is True
    assert desired.stack_set.managed_execution is False  # "Inactive" in the console, as the seed recommends
    assert desired.stack_set.template_parameters()["SendCFTDeploymentEventsToClumio"] == "True"
    assert [w.name for w in desired.rollout.waves] == ["canary", "rest"]
    canary, rest = desired.rollout.waves
    assert (canary.sample, canary.max_concurrent, canary.failure_tolerance) == (2, Amount(count=1), Amount(count=0))
    assert rest.rest and rest.concurrency_mode is ConcurrencyMode.SOFT_FAILURE_TOLERANCE
    assert desired.clumio.api_url == "https://us-west-2.api.clumio.com"
    assert desired.clumio.token_env == "CLUMIO_API_TOKEN"
    assert desired.state.backend == "local" and desired.state.path == ".clumio-org/state.json"
    assert desired.organization.call_as is CallAs.SELF
    assert desired.regions == ("us-east-1", "us-west-2")


def test_desired_is_frozen(tmp_path: Path) -> None:
    desired = load_desired(write(tmp_path, VALID), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        desired.regions = ()  # type: ignore[misc]


def test_enterprise_example_maps_every_section() -> None:
    desired = load_desired(ROOT / "examples" / "enterprise.yaml", env={})
    assert desired.organization.call_as is CallAs.DELEGATED_ADMIN
    assert desired.organization.assume_role_arn == "arn:aws:iam::210987654321:role/clumio-org-deployer"
    assert desired.clumio.template_version == "24.4"
    assert "EC2MSSQL" in desired.clumio.asset_types
    parameters = desired.stack_set.template_parameters()
    assert parameters["PermissionsBoundaryARN"].endswith(":policy/platform/ClumioBoundary")
    assert parameters["CreateClumioInventoryTopicEncryptionKey"] == "False"
    assert parameters["ClumioInventoryTopicEncryptionKey"].startswith("arn:aws:kms:us-east-1:")
    assert desired.stack_set.tags == (("cost-center", "4711"), ("owner", "platform-backup"))
    assert desired.targets.ous == ("/Workloads", "/Shared")
    assert desired.targets.exclude_ous == ("/Workloads/Sandbox",)
    assert desired.targets.exclude_accounts == ("456789012345",)
    assert desired.rollout.region_concurrency is RegionConcurrencyType.SEQUENTIAL
    assert desired.rollout.region_order == ("us-east-1", "eu-west-1", "us-west-2")
    assert [w.name for w in desired.rollout.waves] == ["canary", "critical", "rest"]
    critical = desired.rollout.waves[1]
    assert (critical.max_concurrent, critical.failure_tolerance) == (Amount(percent=20), Amount(count=1))
    assert desired.rollout.waves[2].max_concurrent == Amount(percent=25)
    assert desired.rollout.verify_connections_seconds == 1800
    assert desired.management_account.onboard is True
    assert (desired.state.backend, desired.state.bucket, desired.state.region) == (
        "s3",
        "acme-platform-terraform-state",
        "us-east-1",
    )


def _ou_paths(ous: list[dict[str, object]], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for ou in ous:
        path = f"{prefix}/{ou['name']}"
        paths.add(path)
        paths |= _ou_paths(ou.get("ous", []), path)  # type: ignore[arg-type]
    return paths


def test_demo_example_fits_the_sandbox_demo_world() -> None:
    world = yaml.safe_load((ROOT / "examples" / "sandbox" / "demo.yaml").read_text())
    desired = load_desired(ROOT / "examples" / "demo.yaml", env={})
    assert desired.organization.id == world["organization"]["id"]
    assert desired.organization.management_account == world["organization"]["management_account"]
    assert set(desired.regions) <= set(world["regions"]["enabled"])
    paths = _ou_paths(world["ous"])
    assert desired.targets.exclude_ous == ("/Sandbox",)
    for wave in desired.rollout.waves:
        assert set(wave.ous) <= paths
    canary = desired.rollout.waves[0]
    canary_accounts = {a["id"] for ou in world["ous"] if ou["name"] == "Canary" for a in ou["accounts"]}
    assert set(canary.accounts) == canary_accounts
    assert [w.name for w in desired.rollout.waves] == ["canary", "critical", "rest"]
    assert desired.state.backend == "local" and desired.state.path.startswith(".clumio-org/")


def test_environment_references_are_replaced_and_dollar_dollar_escapes(tmp_path: Path) -> None:
    text = variant(
        ("id: o-a1b2c3d4e5", "id: ${env:ORG_ID}"),
        ("  portal: west\n", "  api_url: https://${env:CLUMIO_HOST}/\n"),
        append='stack_set:\n  description: "costs $${env:NOT_A_REFERENCE}"\n',
    )
    desired = load_desired(write(tmp_path, text), env={"ORG_ID": "o-zz99yy88xx", "CLUMIO_HOST": "localhost:8080"})
    assert desired.organization.id == "o-zz99yy88xx"
    assert desired.clumio.api_url == "https://localhost:8080"  # trailing slash stripped, as Clumio's clients do
    assert desired.stack_set.description == "costs ${env:NOT_A_REFERENCE}"


def test_waves_without_a_rest_wave_get_one_so_no_target_is_left_out(tmp_path: Path) -> None:
    text = VALID + "rollout:\n  waves:\n    - {name: canary, sample: 1}\n    - {name: prod, ous: [/Prod]}\n"
    desired = load_desired(write(tmp_path, text), env={})
    assert [w.name for w in desired.rollout.waves] == ["canary", "prod", "rest"]
    assert desired.rollout.waves[-1].rest


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("3", Amount(count=3)),
        ('"25%"', Amount(percent=25)),
        ("{count: 4}", Amount(count=4)),
        ("{percent: 7}", Amount(percent=7)),
    ],
)
def test_count_or_percent_forms(tmp_path: Path, written: str, amount: Amount) -> None:
    text = VALID + f"rollout:\n  waves:\n    - {{name: all, rest: true, max_concurrent: {written}}}\n"
    assert load_desired(write(tmp_path, text), env={}).rollout.waves[0].max_concurrent == amount


def test_digest_ignores_comments_order_and_spelled_out_defaults(tmp_path: Path) -> None:
    plain = load_desired(write(tmp_path, VALID, "a.yaml"), env={})
    reordered = "# reviewed\n" + VALID.replace("version: 1\n", "") + "version: 1\nstack_set:\n  name: clumio-org\n"
    same = load_desired(write(tmp_path, reordered, "b.yaml"), env={})
    assert plain.digest == same.digest and len(plain.digest) == 64
    changed = load_desired(write(tmp_path, variant(("us-west-2", "eu-west-1")), "c.yaml"), env={})
    assert changed.digest != plain.digest


def test_digest_follows_interpolated_values(tmp_path: Path) -> None:
    path = write(tmp_path, variant(("id: o-a1b2c3d4e5", "id: ${env:ORG_ID}")))
    first = load_desired(path, env={"ORG_ID": "o-aaaaaaaaaa"})
    second = load_desired(path, env={"ORG_ID": "o-bbbbbbbbbb"})
    assert first.digest != second.digest
    assert first.source == str(path)
