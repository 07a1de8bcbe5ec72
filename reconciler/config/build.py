"""Turn validated data into the frozen Desired model, filling in the defaults the seed procedure recommends."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from typing import Any

from reconciler.config.checks_base import obj
from reconciler.config.portals import api_url_for_portal, normalize_api_url
from reconciler.core.desired import (
    Amount,
    AutoDeploymentReach,
    CallAs,
    ClumioSpec,
    ConcurrencyMode,
    Desired,
    ExistingConnections,
    GuardrailsSpec,
    ManagementAccountSpec,
    OrganizationSpec,
    RegionConcurrencyType,
    RolloutSpec,
    StackSetSpec,
    StateSpec,
    SuspendedAccounts,
    TargetsSpec,
    WaveSpec,
)
from reconciler.core.guardrails import GuardrailMode

# Seed step 8: "test the template on a few sample accounts" first, then "increase concurrency".
CANARY_WAVE = WaveSpec(name="canary", sample=2, max_concurrent=Amount(count=1), failure_tolerance=Amount(count=0))
REST_WAVE = WaveSpec(
    name="rest",
    rest=True,
    max_concurrent=Amount(percent=25),
    failure_tolerance=Amount(percent=10),
    concurrency_mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE,
)
DEFAULT_WAVES = (CANARY_WAVE, REST_WAVE)

_CONCURRENCY_MODES = {
    "strict": ConcurrencyMode.STRICT_FAILURE_TOLERANCE,
    "soft": ConcurrencyMode.SOFT_FAILURE_TOLERANCE,
}


def _present(section: dict[str, object], *keys: str) -> dict[str, Any]:
    """The keys of ``section`` that the file sets; the rest keep the dataclass defaults."""
    return {key: section[key] for key in keys if key in section}


def _tuple(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def amount(value: object) -> Amount:
    """3 → count 3; "25%" → percent 25; {count: 3} / {percent: 25} alike."""
    if isinstance(value, dict):
        if "percent" in value:
            return Amount(percent=int(value["percent"]))
        return Amount(count=int(value["count"]))
    if isinstance(value, str):
        return Amount(percent=int(value.rstrip("%")))
    assert isinstance(value, int)
    return Amount(count=value)


def _wave(raw: dict[str, object]) -> WaveSpec:
    kwargs: dict[str, Any] = {"name": str(raw["name"])}
    kwargs["accounts"] = _tuple(raw.get("accounts"))
    kwargs["ous"] = _tuple(raw.get("ous"))
    kwargs.update(_present(raw, "sample", "rest"))
    if "max_concurrent" in raw:
        kwargs["max_concurrent"] = amount(raw["max_concurrent"])
    if "failure_tolerance" in raw:
        kwargs["failure_tolerance"] = amount(raw["failure_tolerance"])
    if "concurrency_mode" in raw:
        kwargs["concurrency_mode"] = _CONCURRENCY_MODES[str(raw["concurrency_mode"])]
    return WaveSpec(**kwargs)


def _waves(raw: object) -> tuple[WaveSpec, ...]:
    if not isinstance(raw, list):
        return DEFAULT_WAVES
    waves = tuple(_wave(obj(item)) for item in raw)
    if waves and waves[-1].rest:
        return waves
    # Accounts outside every listed wave would silently never be onboarded; the rest wave picks them up.
    name = "rest" if all(wave.name != "rest" for wave in waves) else "remaining"
    return (*waves, dataclasses.replace(REST_WAVE, name=name))


def _rollout(raw: dict[str, object]) -> RolloutSpec:
    kwargs: dict[str, Any] = {"waves": _waves(raw.get("waves"))}
    if "region_concurrency" in raw:
        kwargs["region_concurrency"] = RegionConcurrencyType(str(raw["region_concurrency"]).upper())
    kwargs["region_order"] = _tuple(raw.get("region_order"))
    verify = obj(raw.get("verify_connections"))
    if "timeout_seconds" in verify:
        kwargs["verify_connections_seconds"] = verify["timeout_seconds"]
    return RolloutSpec(**kwargs)


def _clumio(raw: dict[str, object]) -> ClumioSpec:
    if "portal" in raw:
        url = api_url_for_portal(str(raw["portal"]))
        assert url is not None  # the schema's enum only admits known portals
    else:
        url = normalize_api_url(str(raw["api_url"]))
    kwargs: dict[str, Any] = {"api_url": url, **_present(raw, "token_env", "template_version")}
    if "asset_types" in raw:
        kwargs["asset_types"] = _tuple(raw["asset_types"])
    return ClumioSpec(**kwargs)


def _stack_set(raw: dict[str, object]) -> StackSetSpec:
    kwargs: dict[str, Any] = _present(raw, "name", "description", "managed_execution")
    if "send_deployment_events" in raw:
        kwargs["send_deployment_events"] = raw["send_deployment_events"]
    if "permissions_boundary_arn" in raw:
        kwargs["permissions_boundary_arn"] = raw["permissions_boundary_arn"]
    key = obj(raw.get("inventory_topic_key"))
    if "create" in key:
        kwargs["create_inventory_topic_key"] = key["create"]
    if "arn" in key:
        kwargs["inventory_topic_key_arn"] = key["arn"]
    auto = obj(raw.get("auto_deployment"))
    if "enabled" in auto:
        kwargs["auto_deployment"] = auto["enabled"]
    if "retain_stacks_on_account_removal" in auto:
        kwargs["retain_stacks_on_account_removal"] = auto["retain_stacks_on_account_removal"]
    tags = obj(raw.get("tags"))
    kwargs["tags"] = tuple(sorted((str(k), str(v)) for k, v in tags.items()))
    return StackSetSpec(**kwargs)


def _targets(raw: dict[str, object]) -> TargetsSpec:
    exclude = obj(raw.get("exclude"))
    return TargetsSpec(
        organization=raw.get("organization") is True,
        ous=_tuple(raw.get("ous")),
        accounts=_tuple(raw.get("accounts")),
        exclude_accounts=_tuple(exclude.get("accounts")),
        exclude_ous=_tuple(exclude.get("ous")),
        auto_deployment_reach=AutoDeploymentReach(str(raw.get("auto_deployment_reach", "desired"))),
        suspended_accounts=SuspendedAccounts(str(raw.get("suspended_accounts", "keep"))),
        existing_connections=ExistingConnections(str(raw.get("existing_connections", "leave"))),
    )


def _organization(raw: dict[str, object]) -> OrganizationSpec:
    kwargs: dict[str, Any] = _present(raw, "id", "management_account", "home_region", "assume_role_arn")
    if "call_as" in raw:
        kwargs["call_as"] = CallAs(str(raw["call_as"]))
    return OrganizationSpec(**kwargs)


def _state(raw: dict[str, object], home_region: str) -> StateSpec:
    kwargs: dict[str, Any] = _present(raw, "backend", "path", "bucket", "key", "region", "kms_key_id")
    if kwargs.get("backend") == "s3":
        kwargs.setdefault("region", home_region)
    return StateSpec(**kwargs)


def _canonical(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def digest_of(desired: Desired) -> str:
    """SHA-256 of the canonical JSON of the model (env interpolated, defaults applied): comments, key order and
    spelled-out defaults do not change it; any change in meaning does."""
    content = dataclasses.asdict(dataclasses.replace(desired, source="", digest="", places=()))
    for where_only in ("source", "digest", "places"):
        content.pop(where_only)
    text = json.dumps(_canonical(content), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def build_desired(data: dict[str, object], source: str,
                  places: tuple[tuple[str, int, int], ...] = ()) -> Desired:
    """The Desired model for schema- and check-clean ``data``; ``places`` says where each value is written."""
    organization = _organization(obj(data["organization"]))
    desired = Desired(
        organization=organization,
        clumio=_clumio(obj(data["clumio"])),
        stack_set=_stack_set(obj(data.get("stack_set"))),
        targets=_targets(obj(data["targets"])),
        regions=_tuple(data["regions"]),
        rollout=_rollout(obj(data.get("rollout"))),
        management_account=ManagementAccountSpec(
            **_present(
                obj(data.get("management_account")),
                "onboard",
                "stack_set_name",
                "administration_role_name",
                "execution_role_name",
            )
        ),
        state=_state(obj(data.get("state")), organization.home_region),
        guardrails=GuardrailsSpec(GuardrailMode(obj(data.get("guardrails")).get("on_deny", "warn"))),
        source=source,
        version=int(str(data.get("version", 1))),
        places=places,
    )
    return dataclasses.replace(desired, digest=digest_of(desired))
