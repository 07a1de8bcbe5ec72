"""AWS sessions: the standard credential chain, an optional assumed role, adaptive retries, and a call counter."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
from botocore.loaders import Loader
from botocore.session import Session as BotocoreSession

from reconciler.core.errors import ReconcilerError
from reconciler.core.terminal import terminal_safe
from reconciler.providers.aws import parsers
from reconciler.providers.aws.errors import aws_errors

log = logging.getLogger(__name__)

# Adaptive mode retries throttling with client-side rate limiting; it never retries OperationInProgress or
# StaleRequest (§A9), which the apply executor waits out itself.
#
# Connecting is bounded separately from answering: a refused or unroutable endpoint (a wrong AWS_ENDPOINT_URL, a
# sandbox that is down, a proxy that is missing) fails in seconds instead of botocore's default 60 s connect timeout
# times ten attempts with backoff (26-40 s measured on a closed loopback port). A TCP connect to a healthy AWS
# endpoint takes milliseconds; 5 s covers a slow VPN, and one retry covers a dropped SYN. Reads keep 60 s: a
# paginated ListStackInstances page can take seconds under load.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
CONNECT_ATTEMPTS = 2
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    max_pool_connections=32,  # discovery reads many regions/parents at once through one client
    user_agent_extra="clumio-org",
)

SESSION_NAME = "clumio-org"
MIN_SESSION = timedelta(minutes=50)


class _NoRequestBodies(logging.Filter):
    """botocore logs every request's parameters at DEBUG, which would put ClumioToken and RoleExternalId in a
    ``--debug`` log; those records are dropped (responses carry NoEcho values masked, so they may stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.DEBUG and "request" in str(record.msg).lower())


for _name in ("botocore.endpoint", "botocore.client", "botocore.httpsession"):
    logging.getLogger(_name).addFilter(_NoRequestBodies())


class ApiCallCounter(Counter[str]):
    """Counts API calls as ``service.Operation`` (``cloudformation.ListStackInstances``, ``clumio.ListConnections``).

    One count per API call as the caller sees it (SDK retries of the same call are not counted again), so benchmarks
    can compare calls made with the minimum the APIs allow. Safe to update from many threads.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, key: str) -> None:
        with self._lock:
            self[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self)

    def reset(self) -> None:
        with self._lock:
            self.clear()


_LOADER: Loader | None = None
_LOADER_LOCK = threading.Lock()


def _botocore_session() -> BotocoreSession:
    """A botocore session sharing one model loader per process: service models (EC2's is megabytes of JSON) are
    parsed once, not once per run of build_ports."""
    global _LOADER
    core = BotocoreSession()
    parsers.install(core)  # ListStackInstances pages parsed in ~60 % of botocore's time, same output
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _LOADER)
    return core


def _count_hook(counter: ApiCallCounter) -> Any:
    def before_call(model: Any = None, **_: Any) -> None:
        if model is not None:
            counter.record(f"{model.service_model.signing_name}.{model.name}")

    return before_call


def _assume_role_refresher(base: boto3.Session, role_arn: str, region: str) -> Any:
    """A function botocore calls whenever the assumed-role credentials near expiry (long applies outlive 1 hour)."""
    sts = make_client(base, "sts", region)

    def refresh() -> dict[str, str]:
        with aws_errors("sts", "AssumeRole", role_arn):
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        expiry = creds["Expiration"]
        if not isinstance(expiry, datetime):
            expiry = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        # An issuer whose clock differs from ours (an emulator on simulated time, a skewed host) can hand out an
        # expiry already in our past; botocore would then refuse the credentials outright. AssumeRole sessions last
        # an hour by default, so count at least that from now; AWS still rejects truly expired ones (ExpiredToken).
        expiry = max(expiry, datetime.now(UTC) + MIN_SESSION)
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }

    return refresh


def make_session(region: str, assume_role_arn: str | None, counter: ApiCallCounter | None = None,
                 profile: str | None = None) -> boto3.Session:
    """A boto3 Session from the standard chain (AWS_PROFILE and friends), acting as ``assume_role_arn`` when set.

    Every client made from it honours AWS_ENDPOINT_URL (boto3 reads it itself) and records each call in ``counter``.
    """
    try:
        base = boto3.Session(botocore_session=_botocore_session(), profile_name=profile, region_name=region)
        base._session.get_scoped_config()  # raises ProfileNotFound now, not at the first call
    except Exception as error:  # ProfileNotFound and friends: a user mistake, not a bug
        raise ReconcilerError(f"cannot start an AWS session: {error}",
                              hint="check AWS_PROFILE and your ~/.aws/config") from error
    session = base
    if assume_role_arn:
        refresh = _assume_role_refresher(base, assume_role_arn, region)
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=refresh(), refresh_using=refresh, method="assume-role")
        core = _botocore_session()
        core._credentials = credentials  # the documented way to hand botocore refreshable credentials
        session = boto3.Session(botocore_session=core, region_name=region)
    if counter is not None:
        session.events.register("before-call", _count_hook(counter))
    return session


def _stop_retrying_unreachable(caught_exception: Exception | None = None, attempts: int = 0, **_: Any) -> None:
    """``needs-retry`` handler: after CONNECT_ATTEMPTS failed connects, raise instead of letting botocore's retry
    handler schedule another attempt. Throttling and 5xx answers are untouched (the endpoint answered)."""
    if isinstance(caught_exception, EndpointConnectionError | ConnectTimeoutError) and attempts >= CONNECT_ATTEMPTS:
        raise caught_exception


def check_endpoint_url(environ: Mapping[str, str]) -> None:
    """AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) must be http(s) URLs; botocore would raise a bare
    ValueError at the first client."""
    for name, value in sorted(environ.items()):
        if name != "AWS_ENDPOINT_URL" and not name.startswith("AWS_ENDPOINT_URL_"):
            continue
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value.strip():
            raise ReconcilerError(f"{name}={terminal_safe(repr(value))} is not an http(s) URL",
                                  hint=f"set it like {name}=http://127.0.0.1:4566, or unset it to use AWS itself")


def make_client(session: boto3.Session, service: str, region: str | None = None) -> Any:
    """A client with adaptive retries and bounded connects; the endpoint comes from the environment
    (AWS_ENDPOINT_URL) when set."""
    check_endpoint_url(os.environ)
    try:
        client = session.client(service, region_name=region or session.region_name, config=CLIENT_CONFIG)
    except ValueError as error:  # botocore's "Invalid endpoint: ..." for an endpoint it cannot use
        raise ReconcilerError(f"cannot use the AWS endpoint for {service}: {terminal_safe(str(error))}",
                              hint="check AWS_ENDPOINT_URL and the endpoint_url of your AWS profile") from None
    event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register_first(event, _stop_retrying_unreachable)
    return client
