"""The AWS regions clumio-org accepts, per partition, from a list generated from botocore's endpoint data.

config stays free of botocore: regions.json is written from botocore when the project is built, and
tests/unit/config/test_regions.py fails when the installed botocore knows a different list.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from reconciler.config.diagnostics import did_you_mean


@cache
def partitions() -> dict[str, tuple[str, ...]]:
    """Partition name (aws, aws-cn, aws-us-gov, …) → the regions where CloudFormation is offered."""
    raw = json.loads(resources.files("reconciler.config").joinpath("regions.json").read_text(encoding="utf-8"))
    return {name: tuple(regions) for name, regions in raw["partitions"].items()}


@cache
def known_regions() -> frozenset[str]:
    return frozenset(region for regions in partitions().values() for region in regions)


def partition_of(region: str) -> str | None:
    for name, regions in partitions().items():
        if region in regions:
            return name
    return None


def suggest_region(region: str) -> str | None:
    """The known region closest to a misspelt one (us-est-1 → us-east-1)."""
    return did_you_mean(region, sorted(known_regions()))
