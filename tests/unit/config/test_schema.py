"""The desired-state JSON Schema is complete, self-describing, and agrees with the model and the references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.config.portals import api_url_for_portal, portal_names
from reconciler.config.schema import load_schema
from reconciler.core.desired import ClumioSpec, ManagementAccountSpec, RolloutSpec, StackSetSpec, StateSpec

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        target: dict[str, Any] = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _properties(schema: dict[str, Any], node: dict[str, Any], at: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, sub in node.get("properties", {}).items():
        found.append((f"{at}.{name}".lstrip("."), sub))
    for defname, sub in node.get("$defs", {}).items():
        found += _properties(schema, sub, f"$defs.{defname}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += _properties(schema, node[key], at)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(key, []):
            found += _properties(schema, sub, at)
    return found


def test_schema_is_valid_json_schema_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_field_has_a_description() -> None:
    schema = load_schema()
    missing = [name for name, sub in _properties(schema, schema) if "description" not in _resolve(schema, sub)]
    assert missing == []


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_point_editors_at_the_schema_and_pass_it(example: Path) -> None:
    text = example.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/desired-state.schema.json\n")
    errors = list(Draft202012Validator(load_schema()).iter_errors(yaml.safe_load(text)))
    assert errors == []


def _at(path: str) -> Any:
    schema = load_schema()
    node = schema
    for part in path.split("."):
        node = _resolve(schema, node)["properties"][part]
    return _resolve(schema, node)["default"]


def test_schema_defaults_are_the_model_defaults() -> None:
    stack_set = StackSetSpec()
    assert _at("clumio.token_env") == ClumioSpec.__dataclass_fields__["token_env"].default
    assert tuple(_at("clumio.asset_types")) == ClumioSpec.__dataclass_fields__["asset_types"].default
    assert _at("clumio.template_version") == "latest"
    assert _at("stack_set.name") == stack_set.name
    assert _at("stack_set.send_deployment_events") is stack_set.send_deployment_events is True
    assert _at("stack_set.managed_execution") is stack_set.managed_execution is False
    assert _at("stack_set.auto_deployment.enabled") is stack_set.auto_deployment is True
    assert _at("stack_set.auto_deployment.retain_stacks_on_account_removal") is False
    assert _at("rollout.region_concurrency").upper() == RolloutSpec().region_concurrency.value
    assert _at("rollout.verify_connections.timeout_seconds") == RolloutSpec().verify_connections_seconds
    management = ManagementAccountSpec()
    assert _at("management_account.onboard") is management.onboard
    assert _at("management_account.stack_set_name") == management.stack_set_name
    assert _at("management_account.administration_role_name") == management.administration_role_name
    assert _at("management_account.execution_role_name") == management.execution_role_name
    assert _at("state.backend") == StateSpec().backend
    assert _at("state.path") == StateSpec().path


def test_portal_names_in_the_schema_are_exactly_the_known_portals() -> None:
    enum = load_schema()["$defs"]["clumio"]["properties"]["portal"]["enum"]
    assert sorted(enum) == sorted(portal_names())


def test_portal_urls_follow_the_clumio_reference_section_1() -> None:
    # reference/clumio-api.md §1: one API base URL per portal; ca/eu/au hosts carry a country label.
    assert api_url_for_portal("west") == api_url_for_portal("portal.clumio.com") == "https://us-west-2.api.clumio.com"
    assert api_url_for_portal("us2.portal.clumio.com") == "https://us-east-1.api.clumio.com"
    assert api_url_for_portal("canada") == "https://ca-central-1.ca.api.clumio.com"
    assert api_url_for_portal("eu1.portal.clumio.com") == "https://eu-central-1.de.api.clumio.com"
    assert api_url_for_portal("au") == "https://ap-southeast-2.au.api.clumio.com"
    assert api_url_for_portal("ca-central-1") == "https://ca-central-1.ca.api.clumio.com"
    assert api_url_for_portal("mars") is None


def test_asset_types_are_the_request_values_of_the_clumio_reference_section_5() -> None:
    # reference/clumio-api.md §5; EBS is deprecated in favour of EC2/EBS, FSX is for connections only.
    enum = load_schema()["$defs"]["clumio"]["properties"]["asset_types"]["items"]["enum"]
    assert set(enum) == {"EC2/EBS", "RDS", "DynamoDB", "EC2MSSQL", "S3", "IcebergOnGlue", "IcebergOnS3Tables"}


def test_schema_file_is_the_one_shipped_in_the_package() -> None:
    on_disk = json.loads((Path(__file__).parents[3] / "schemas" / "desired-state.schema.json").read_text())
    assert on_disk == load_schema()


def test_config_stays_pure_no_aws_or_cli_libraries_are_imported() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from reconciler.files.config import load_desired; load_desired('examples/enterprise.yaml'); "
        "print(sorted(m for m in ('boto3', 'botocore', 'requests', 'typer', 'rich') if m in sys.modules))"
    )
    root = Path(__file__).parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
