"""Runs that outlive their credentials: a role from `organization.assume_role_arn` is assumed through botocore's
RefreshableCredentials, so botocore renews it before it expires (a multi-hour apply outlives a 1-hour session); the
run never holds frozen credentials of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.credentials import RefreshableCredentials

from reconciler.providers.aws.session import make_session

ROLE = "arn:aws:iam::400000000001:role/clumio-org-deployer"


def test_assumed_role_credentials_are_refreshable_and_renewed_before_they_expire(sandbox_env: Any) -> None:
    session = make_session("us-east-1", ROLE)
    credentials = session.get_credentials()
    assert isinstance(credentials, RefreshableCredentials) and credentials.method == "assume-role"
    first = credentials.get_frozen_credentials().access_key
    sts = session.client("sts")
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/clumio-org-deployer/clumio-org")

    # 30 s before expiry is inside botocore's mandatory refresh window: the next use assumes the role again.
    credentials._expiry_time = datetime.now(UTC) + timedelta(seconds=30)
    renewed = credentials.get_frozen_credentials().access_key

    assert renewed != first
    assert sts.get_caller_identity()["Account"] == "400000000001"  # the client signs with the renewed keys
