"""Helpers for the drift end-to-end tests: deploy the demo config's StackSet on the sandbox with plain boto3 (as an
operator would by hand, so these tests need no apply), let the world settle, and run ``clumio-org drift``."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.app import main
from reconciler.core.desired import Desired
from reconciler.discover.live import discover
from reconciler.files.config import load_desired
from reconciler.plan.expand import expand
from reconciler.providers.clumio.client import ClumioClient
from reconciler.providers.factory import build_ports

EXAMPLES = Path(__file__).parents[2] / "examples"


@dataclass
class DriftWorld:
    sandbox: Any
    config: Path
    desired: Desired
    capsys: Any

    def drift(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(["drift", "-c", str(self.config), *args], clock=self.sandbox.world.clock)
        return code, self.capsys.readouterr().out

    def drift_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        code, out = self.drift("--format", "json", *args)
        return code, json.loads(out)

    def edit_config(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text
        self.config.write_text(text.replace(old, new, 1))
        self.desired = load_desired(self.config)

    def findings(self, report: dict[str, Any], category: str) -> list[dict[str, Any]]:
        return [f for f in report["findings"] if f["category"] == category]

    def event(self, event: str, **args: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.sandbox.world.apply_event(event, args)
        return result

    def settle(self, seconds: float = 3600, step: float = 60) -> None:
        """Advance simulated time, polling so the world runs its operations and Clumio connects."""
        cfn = self.sandbox.client("cloudformation")
        waited = 0.0
        while waited < seconds:
            self.sandbox.world.clock.advance(step)
            waited += step
            ops = cfn.list_stack_set_operations(StackSetName=self.desired.stack_set.name)["Summaries"]
            if all(op["Status"] not in ("RUNNING", "QUEUED", "STOPPING") for op in ops) and waited >= 120:
                conns = self.sandbox.world.status().get("connections", {})
                if not isinstance(conns, dict) or not conns.get("connecting"):
                    return


def deploy(world: DriftWorld, *, auto_deployment: bool = True) -> None:
    """CreateStackSet + CreateStackInstances for exactly the instances the demo config expands to."""
    sandbox, desired = world.sandbox, world.desired
    clumio = ClumioClient(sandbox.clumio_url, "CLUMIO_API_TOKEN")
    template = clumio.org_template(desired.clumio.asset_types)
    secrets = clumio.org_deployment_parameters(desired.organization.id)
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in desired.stack_set.template_parameters().items()]
    params += [{"ParameterKey": "ClumioToken", "ParameterValue": secrets.token.reveal()},
               {"ParameterKey": "RoleExternalId", "ParameterValue": secrets.external_id.reveal()}]
    cfn = sandbox.client("cloudformation")
    cfn.create_stack_set(StackSetName=desired.stack_set.name, TemplateBody=template.body, Parameters=params,
                         Capabilities=list(desired.stack_set.capabilities), PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": auto_deployment, "RetainStacksOnAccountRemoval": False})
    tree = discover(desired, build_ports(desired), connections=False).org
    expansion = expand(desired, tree)
    wanted = sorted({key.account for key in expansion.targets})
    # Like apply: the StackSet's OU cover as targets, narrowed to exactly the accounts the config wants.
    cfn.create_stack_instances(
        StackSetName=desired.stack_set.name, Regions=list(desired.regions),
        DeploymentTargets={"OrganizationalUnitIds": list(expansion.cover.ous), "AccountFilterType": "INTERSECTION",
                           "Accounts": wanted},
        OperationPreferences={"RegionConcurrencyType": "PARALLEL", "MaxConcurrentPercentage": 100,
                              "FailureTolerancePercentage": 100})
    world.settle()


def make_world(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> DriftWorld:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("CLUMIO_ORG_POLL_SECONDS", "30")
    config = tmp_path / "clumio-org.yaml"
    shutil.copy(EXAMPLES / "demo.yaml", config)
    return DriftWorld(sandbox, config, load_desired(config), capsys)
