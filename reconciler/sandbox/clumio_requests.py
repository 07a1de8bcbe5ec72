"""Reading the Clumio sandbox's request bodies: template requests (§3.2) and new connection groups (§3.5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reconciler.sandbox.clumio_resources import (
    GLOBAL_OU,
    ClumioInputError,
    ConnectionGroup,
    canonical_asset_types,
    manual_resources,
)

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


def template_request(body: dict[str, Any]) -> tuple[list[str] | None, dict[str, Any] | None]:
    """A POST /connections/aws/templates body's asset types (None: the defaults) and manual resources (if asked)."""
    raw_types = body.get("asset_types_enabled")
    asset_types = None if raw_types is None else canonical_asset_types(raw_types)
    permission_set = body.get("template_permission_set", "all")
    if permission_set not in ("all", "inventory_backup"):
        raise ClumioInputError("template_permission_set must be all or inventory_backup")
    resources = None
    if body.get("show_manual_resources"):
        account, region = body.get("aws_account_id"), body.get("aws_region")
        if not (isinstance(account, str) and re.fullmatch(r"[0-9]{12}", account)) or not (
                isinstance(region, str) and REGION.fullmatch(region)):
            raise ClumioInputError("show_manual_resources needs aws_account_id (12 digits) and aws_region")
        resources = manual_resources(account, region, asset_types or [])
    return asset_types, resources


def new_group(body: dict[str, Any], new_id: Callable[[], str], now: datetime) -> ConnectionGroup:
    """The connection group a POST /connections/aws/connection-groups body asks for (its id drawn once valid)."""
    account = body.get("account_native_id")
    master = body.get("master_aws_account_id") or account
    regions = body.get("aws_regions")
    if not (isinstance(account, str) and re.fullmatch(r"[0-9]{12}", account)):
        raise ClumioInputError("account_native_id must be a 12-digit AWS account id")
    if not (isinstance(regions, list) and regions and all(isinstance(r, str) and REGION.fullmatch(r)
                                                          for r in regions)):
        raise ClumioInputError("aws_regions must be a non-empty list of AWS regions")
    master_region = body.get("master_region") or regions[0]
    types = canonical_asset_types(body.get("asset_types") or body.get("asset_types_enabled") or ["EC2/EBS"],
                                  field_name="asset_types")
    group_id = new_id()
    return ConnectionGroup(group_id, account, str(master), str(master_region), tuple(regions), tuple(types),
                           str(body.get("description") or ""), GLOBAL_OU,
                           str(body.get("template_permission_set") or "all"), now,
                           external_id=f"ExternalID_{group_id}")
