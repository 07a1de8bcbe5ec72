"""The region list shipped in reconciler/config/regions.json still matches botocore's endpoint data.

When botocore learns a new region this test fails; regenerate the file with
``python -m tests.unit.config.test_regions``.
"""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session

from reconciler.config import regions

REGIONS_JSON = Path(regions.__file__).with_name("regions.json")


def botocore_partitions() -> dict[str, list[str]]:
    """Partition → regions where botocore offers CloudFormation (the StackSet must be reachable there)."""
    session = botocore.session.get_session()
    return {
        partition: sorted(session.get_available_regions("cloudformation", partition_name=partition))
        for partition in sorted(session.get_available_partitions())
    }


def test_shipped_region_list_matches_botocore() -> None:
    shipped = {name: list(found) for name, found in regions.partitions().items()}
    assert shipped == botocore_partitions(), "regenerate with: python -m tests.unit.config.test_regions"


def test_common_regions_are_known_and_misspellings_get_a_suggestion() -> None:
    assert {"us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1"} <= regions.known_regions()
    assert regions.partition_of("us-gov-west-1") == "aws-us-gov"
    assert regions.suggest_region("eu-centrl-1") == "eu-central-1"
    assert regions.suggest_region("xx-nowhere-9") is None


if __name__ == "__main__":
    document = {
        "_comment": json.loads(REGIONS_JSON.read_text())["_comment"],
        "partitions": botocore_partitions(),
    }
    REGIONS_JSON.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {REGIONS_JSON}")
