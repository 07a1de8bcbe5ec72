"""Checks the JSON Schema cannot express: relations between fields (waves vs targets, regions vs botocore's list,
the management account, secrets written in the file).

Every check reads the data defensively: the schema may already have reported a wrong type somewhere, and all
problems are reported at once, so a check never assumes a shape the schema has not guaranteed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reconciler.config import regions as known
from reconciler.config.checks_base import Document, looks_like_token, obj, strings
from reconciler.config.diagnostics import DocPath, format_path, show
from reconciler.config.schema import TOKEN_HINT, TOKEN_KEYS
from reconciler.config.targets import check_targets, check_waves

_REGION_FORM = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def run_checks(doc: Document) -> None:
    """Add a diagnostic to ``doc`` for every cross-field problem."""
    data = obj(doc.data)
    _check_clumio(doc, data)
    _check_regions(doc, data)
    _check_stack_set(doc, data)
    check_targets(doc, data)
    check_waves(doc, data)
    _check_management_account(doc, data)
    _check_state(doc, data)


def _walk_strings(value: object, at: DocPath) -> Iterator[tuple[DocPath, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, (*at, index))


def _check_clumio(doc: Document, data: dict[str, object]) -> None:
    if "clumio" not in data:
        return
    clumio = obj(data.get("clumio"))
    for at, value in _walk_strings(clumio, ("clumio",)):
        if at[-1] in ("api_url", "portal") or str(at[-1]).lower() in TOKEN_KEYS or not looks_like_token(value):
            continue
        if at[-1] == "token_env" and not _ENV_NAME.match(value):
            continue  # the schema already says it is not a variable name
        # Never echo the value: it may be a live credential on its way into a CI log.
        doc.error(at, f"{'.'.join(map(str, at))}: this looks like a literal API token", TOKEN_HINT)
    if "api_url" in clumio and "portal" in clumio:
        doc.error(("clumio", "portal"), "clumio: give api_url or portal, not both", None, key=True)
    elif "api_url" not in clumio and "portal" not in clumio and isinstance(data.get("clumio"), dict):
        doc.error(
            ("clumio",),
            "clumio: say which Clumio API to use with api_url or portal",
            "e.g. portal: west (west.portal.clumio.com) or api_url: https://us-west-2.api.clumio.com",
            key=True,
        )
    types = [value for _, value in strings(clumio.get("asset_types"))]
    if "EC2MSSQL" in types and "EC2/EBS" not in types:
        index = types.index("EC2MSSQL")
        doc.error(
            ("clumio", "asset_types", index),
            "clumio.asset_types: EC2MSSQL requires EC2/EBS",
            "add EC2/EBS to asset_types (Clumio protects SQL Server on EC2 through the EC2/EBS integration)",
        )


def _region_places(data: dict[str, object]) -> Iterator[tuple[DocPath, str]]:
    organization = obj(data.get("organization"))
    if isinstance(organization.get("home_region"), str):
        yield ("organization", "home_region"), str(organization["home_region"])
    for index, region in strings(data.get("regions")):
        yield ("regions", index), region
    for index, region in strings(obj(data.get("rollout")).get("region_order")):
        yield ("rollout", "region_order", index), region
    state = obj(data.get("state"))
    if isinstance(state.get("region"), str):
        yield ("state", "region"), str(state["region"])


def _check_regions(doc: Document, data: dict[str, object]) -> None:
    seen_partitions: dict[str, DocPath] = {}
    for at, region in _region_places(data):
        if not _REGION_FORM.match(region):
            continue  # the schema has already said it is not a region name
        if region not in known.known_regions():
            suggestion = known.suggest_region(region)
            hint = f"did you mean {suggestion}?" if suggestion else "see `aws ec2 describe-regions --all-regions`"
            doc.error(
                at, f"{format_path(at)}: unknown AWS region {show(region)} (CloudFormation is not offered there)", hint
            )
            continue
        partition = known.partition_of(region) or "aws"
        if seen_partitions and partition not in seen_partitions:
            other = next(iter(seen_partitions))
            doc.error(
                at,
                f"region {show(region)} is in partition {partition}, other regions in this file are in {other}",
                "one organization lives in one partition; use regions of that partition only",
            )
        seen_partitions.setdefault(partition, at)
    regions = {region for _, region in strings(data.get("regions"))}
    for index, region in strings(obj(data.get("rollout")).get("region_order")):
        if regions and region not in regions:
            doc.error(
                ("rollout", "region_order", index),
                f"rollout.region_order[{index}]: {show(region)} is not in regions",
                "region_order may only reorder the regions listed under regions",
            )


def _check_stack_set(doc: Document, data: dict[str, object]) -> None:
    stack_set = obj(data.get("stack_set"))
    key = obj(stack_set.get("inventory_topic_key"))
    if key.get("create") is True and "arn" in key:
        doc.error(
            ("stack_set", "inventory_topic_key", "arn"),
            "stack_set.inventory_topic_key: an existing key arn is given while create is true",
            "either create: true (a new KMS key per stack) or arn: <existing key>, not both",
            key=True,
        )
    auto = obj(stack_set.get("auto_deployment"))
    if auto.get("enabled") is False and auto.get("retain_stacks_on_account_removal") is True:
        doc.error(
            ("stack_set", "auto_deployment", "retain_stacks_on_account_removal"),
            "stack_set.auto_deployment: retain_stacks_on_account_removal only applies when enabled is true",
            "remove retain_stacks_on_account_removal or set enabled: true",
            key=True,
        )


def _check_management_account(doc: Document, data: dict[str, object]) -> None:
    management = obj(data.get("management_account"))
    if management.get("onboard") is not True:
        return
    stack_set_name = obj(data.get("stack_set")).get("name", "clumio-org")
    own_name = management.get("stack_set_name", "clumio-org-management")
    if own_name == stack_set_name:
        doc.error(
            ("management_account", "stack_set_name"),
            f"management_account.stack_set_name: {show(own_name)} is also the name of the organization StackSet",
            "the self-managed StackSet for the management account needs a name of its own",
        )


def _check_state(doc: Document, data: dict[str, object]) -> None:
    state = obj(data.get("state"))
    backend = state.get("backend", "local")
    if backend == "local":
        for key in ("bucket", "key", "region", "kms_key_id"):
            if key in state:
                doc.error(
                    ("state", key),
                    f"state.{key} only applies to backend s3 (backend is local)",
                    "set backend: s3 to keep state in S3, or remove the key",
                    key=True,
                )
    elif backend == "s3" and "path" in state:
        doc.error(
            ("state", "path"),
            "state.path only applies to backend local (backend is s3)",
            "S3 state lives at bucket + key; remove path",
            key=True,
        )
