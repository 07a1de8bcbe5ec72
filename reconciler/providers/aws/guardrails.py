"""GuardrailReader on boto3: Organizations SCP reads (ListPolicies, ListTargetsForPolicy, ListPoliciesForTarget,
DescribePolicy) and the Control Tower landing zone (ListLandingZones, GetLandingZone)."""

from __future__ import annotations

from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.core.guardrails import SCP_TYPE, LandingZone, ScpPolicy
from reconciler.core.ports import GuardrailsUnreadable
from reconciler.providers.aws.errors import _ACCESS_DENIED, map_botocore_error, map_client_error

PAGE_SIZE = 20  # MaxResults 1–20 for Organizations list calls (aws-stacksets.md §B)
_NO_CONTROL_TOWER = {"ResourceNotFoundException"}


class AwsGuardrailReader:
    """Reads SCPs and the landing zone, fresh on every call: discovery asks for each distinct policy once, and
    apply's recheck before a wave must see policies edited since the plan."""

    def __init__(self, organizations: Any, controltower: Any) -> None:
        self._org = organizations
        self._ct = controltower

    def _paged(self, client: Any, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        method = getattr(client, xform_name(operation))
        items: list[Any] = []
        token: str | None = None
        try:
            while True:
                page = method(**params, **({"NextToken": token} if token else {}))
                items.extend(page.get(key, []))
                token = page.get("NextToken")
                if not token:
                    return items
        except ClientError as error:
            raise _mapped(error, service, operation) from error
        except BotoCoreError as error:
            raise map_botocore_error(error, service, operation) from error

    def policies_for_target(self, target_id: str) -> tuple[str, ...]:
        rows = self._paged(self._org, "organizations", "ListPoliciesForTarget", "Policies",
                           TargetId=target_id, Filter=SCP_TYPE, MaxResults=PAGE_SIZE)
        return tuple(sorted(str(row["Id"]) for row in rows))

    def scp_ids(self) -> tuple[str, ...]:
        rows = self._paged(self._org, "organizations", "ListPolicies", "Policies", Filter=SCP_TYPE,
                           MaxResults=PAGE_SIZE)
        return tuple(sorted(str(row["Id"]) for row in rows))

    def policy_targets_page(self, policy_id: str, token: str | None) -> tuple[tuple[str, ...], str | None]:
        try:
            page = self._org.list_targets_for_policy(PolicyId=policy_id, MaxResults=PAGE_SIZE,
                                                     **({"NextToken": token} if token else {}))
        except ClientError as error:
            raise _mapped(error, "organizations", "ListTargetsForPolicy") from error
        except BotoCoreError as error:
            raise map_botocore_error(error, "organizations", "ListTargetsForPolicy") from error
        return tuple(str(row["TargetId"]) for row in page.get("Targets", [])), page.get("NextToken") or None

    def describe_policy(self, policy_id: str) -> ScpPolicy:
        try:
            raw = self._org.describe_policy(PolicyId=policy_id)["Policy"]
        except ClientError as error:
            raise _mapped(error, "organizations", "DescribePolicy") from error
        except BotoCoreError as error:
            raise map_botocore_error(error, "organizations", "DescribePolicy") from error
        summary = raw.get("PolicySummary", {})
        return ScpPolicy(policy_id, str(summary.get("Name", policy_id)), str(raw.get("Content", "")),
                         bool(summary.get("AwsManaged", False)))

    def landing_zone(self) -> LandingZone | None:
        zones = self._paged(self._ct, "controltower", "ListLandingZones", "landingZones")
        if not zones:
            return None
        arn = str(zones[0]["arn"])
        try:
            detail = self._ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NO_CONTROL_TOWER:
                return None
            raise _mapped(error, "controltower", "GetLandingZone") from error
        except BotoCoreError as error:
            raise map_botocore_error(error, "controltower", "GetLandingZone") from error
        manifest = detail.get("manifest") or {}
        regions = manifest.get("governedRegions") if isinstance(manifest, dict) else None
        return LandingZone(arn=str(detail.get("arn", arn)), version=str(detail.get("version", "")),
                           status=str(detail.get("status", "")),
                           governed_regions=tuple(sorted(str(r) for r in regions or ())))


def _mapped(error: ClientError, service: str, operation: str) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in _ACCESS_DENIED:
        message = error.response.get("Error", {}).get("Message", "") or code
        return GuardrailsUnreadable(f"AWS denied {service}:{operation}: {message}")
    return map_client_error(error, service, operation)
