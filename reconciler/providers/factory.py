"""Wire the real providers behind the ports for one desired state: what the CLI hands to discovery, apply and drift."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from reconciler.core.desired import CallAs, Desired
from reconciler.core.ports import Clumio, GuardrailReader, OrgReader, StackSets
from reconciler.providers.aws.guardrails import AwsGuardrailReader
from reconciler.providers.aws.organizations import AwsOrgReader
from reconciler.providers.aws.session import ApiCallCounter, make_client, make_session
from reconciler.providers.aws.stacksets import AwsStackSets
from reconciler.providers.clumio.client import ClumioClient

# Organizations and IAM are global services whose (non-sandbox) endpoints live in us-east-1.
GLOBAL_REGION = "us-east-1"


@dataclass(frozen=True)
class Ports:
    """The three ports, built once per run.

    ``stacksets`` talks to the StackSet home region with ``CallAs`` as configured; ``management_stacksets`` always
    calls as SELF, for the self-managed StackSet that onboards the management account. ``api_calls`` counts every
    AWS and Clumio call made through these ports as ``service.Operation``.
    """

    org: OrgReader
    stacksets: StackSets
    clumio: Clumio
    management_stacksets: StackSets
    api_calls: ApiCallCounter
    guardrails: GuardrailReader


class _OnFirstUse:
    """A client made when it is first used: a plan never reads IAM, and making its client costs ~15 ms of CPU
    (botocore loads the service model and builds the client class)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Callable[[], Any] | None = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._make is not None:
                self._client, self._make = self._make(), None
        return getattr(self._client, name)


def build_ports(desired: Desired, *, profile: str | None = None) -> Ports:
    """Real AWS (boto3 standard chain, optional assume-role) and Clumio clients for ``desired``."""
    org_spec = desired.organization
    counter = ApiCallCounter()
    session = make_session(org_spec.home_region, org_spec.assume_role_arn, counter, profile=profile)
    cfn = make_client(session, "cloudformation")
    organizations = make_client(session, "organizations", GLOBAL_REGION)
    org = AwsOrgReader(
        organizations=organizations,
        sts=make_client(session, "sts"),
        ec2=make_client(session, "ec2"),
        iam=_OnFirstUse(partial(make_client, session, "iam", GLOBAL_REGION)),  # apply's preflight only
    )
    clumio = ClumioClient(desired.clumio.api_url, desired.clumio.token_env, on_call=counter.record)
    return Ports(
        org=org,
        stacksets=AwsStackSets(cfn, org_spec.call_as),
        clumio=clumio,
        management_stacksets=AwsStackSets(cfn, CallAs.SELF),
        api_calls=counter,
        # Control Tower answers in its landing zone's home region, which is usually the StackSet home region.
        guardrails=AwsGuardrailReader(organizations, make_client(session, "controltower")),
    )
