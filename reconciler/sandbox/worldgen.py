"""Generated sandbox worlds for benchmarks and scale tests: thousands of accounts in a few levels of OUs."""

from __future__ import annotations

import random
from typing import Any

from reconciler.sandbox.regions import ALL_REGIONS

MANAGEMENT_ACCOUNT = "900000000000"


def generate_world_spec(accounts: int, regions: list[str] | None = None, ou_depth: int = 3, fanout: int = 4,
                        suspended: int | None = None, seed: int = 0, *, deployed: bool = False,
                        faults: dict[str, Any] | None = None, **timing: float) -> dict[str, Any]:
    """A valid world spec with ``accounts`` member accounts spread over ``fanout``-wide OUs ``ou_depth`` levels deep.

    ``suspended`` accounts (default 1 %) are chosen with ``seed``; ``deployed=True`` adds an existing Clumio StackSet
    ("clumio-org", every account under the root, every region) so reads can be measured at scale; ``timing`` sets
    instance_seconds / instance_jitter_seconds / connect_seconds / drift_seconds.
    """
    if accounts < 1 or ou_depth < 1 or fanout < 1:
        raise ValueError("accounts, ou_depth and fanout must be positive")
    rng = random.Random(seed)
    chosen_regions = list(regions or ALL_REGIONS)
    ids = [f"{100000000000 + i:012d}" for i in range(accounts)]
    n_suspended = accounts // 100 if suspended is None else suspended
    suspended_ids = set(rng.sample(ids, min(n_suspended, accounts)))

    leaves: list[dict[str, Any]] = []

    def build(level: int, prefix: str) -> list[dict[str, Any]]:
        ous = []
        for i in range(fanout):
            name = f"{prefix}{chr(ord('A') + i)}" if prefix else f"Unit{chr(ord('A') + i)}"
            ou: dict[str, Any] = {"name": name, "accounts": []}
            if level < ou_depth:
                ou["ous"] = build(level + 1, name + "-")
            else:
                leaves.append(ou)
            ous.append(ou)
        return ous

    tree = build(1, "")
    for index, account_id in enumerate(ids):
        leaf = leaves[index % len(leaves)]
        account: dict[str, Any] = {"id": account_id, "name": f"account-{index:05d}"}
        if account_id in suspended_ids:
            account["state"] = "SUSPENDED"
        leaf["accounts"].append(account)
    spec: dict[str, Any] = {
        "organization": {"id": f"o-gen{seed:07d}x", "management_account": MANAGEMENT_ACCOUNT,
                         "management_account_name": "generated-management", "root_id": "r-gen0"},
        "ous": tree,
        "stacksets": {"trusted_access": True, "delegated_admins": []},
        "regions": {"enabled": chosen_regions},
        "clumio": {"api_token": "sandbox-api-token", "templates": {"versions": ["24.3", "24.4"], "current": "24.4"}},
        "timing": {"instance_seconds": 150, "connect_seconds": 30, "drift_seconds": 20, **timing},
        "faults": {"seed": seed, **(faults or {})},
    }
    if deployed:
        spec["stacksets"]["existing"] = [{"name": "clumio-org", "regions": chosen_regions, "targets": ["r-gen0"]}]
    return spec
