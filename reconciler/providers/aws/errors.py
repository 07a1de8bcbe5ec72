"""AWS failures as our typed errors: one place turns botocore exceptions into messages a user can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from reconciler.core.errors import CredentialsExpired, EndpointUnreachable, ProviderError
from reconciler.core.ports import (
    STACKSETS_SERVICE_PRINCIPAL,
    OperationIdAlreadyExists,
    OperationInProgress,
    StackSetNotFound,
    StaleRequest,
)

T = TypeVar("T")

# "Another Operation on StackSet arn:aws:cloudformation:…:stackset/clumio-org:… is in progress: <opId>" (§A9).
_RUNNING_OP = re.compile(r"in progress[:\s]+([a-zA-Z0-9][-a-zA-Z0-9]*)\s*\.?\s*$", re.IGNORECASE)

_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
                  "AuthorizationError", "AccessDeniedForDependencyException"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                    "InvalidSignatureException", "AuthFailure"}
_STALE_VIEW = {"NameAlreadyExistsException", "StackInstanceNotFoundException", "OperationNotFoundException",
               "StackSetNotEmptyException", "CreatedButModifiedException"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}

REFRESH_HINT = ("refresh your AWS credentials (for example `aws sso login --profile NAME`, or export new "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN) and run again")


def running_operation_id(message: str) -> str | None:
    """The id of the running operation named in an OperationInProgressException message, when AWS named one."""
    match = _RUNNING_OP.search(message.strip())
    return match.group(1) if match else None


def _iam_action(service: str, operation: str) -> str:
    return f"{service}:{operation}"


def map_client_error(error: ClientError, service: str, operation: str, subject: str = "") -> ProviderError:
    """The typed error for an AWS error response. ``subject`` names what was being touched (a StackSet…)."""
    info = error.response.get("Error", {})
    code = str(info.get("Code", "Unknown"))
    message = str(info.get("Message", "")) or code
    about = f" on {subject}" if subject else ""
    if code == "OperationInProgressException":
        return OperationInProgress(f"another StackSet operation is running{about}: {message}",
                                   running_operation_id(message))
    if code == "StaleRequestException":
        return StaleRequest(f"{operation}{about} was stale (another operation ran since): {message}")
    if code == "OperationIdAlreadyExistsException":
        return OperationIdAlreadyExists(f"operation id already used{about}: {message}")
    if code == "StackSetNotFoundException":
        return StackSetNotFound(f"StackSet not found{about}: {message}",
                                hint="check the StackSet name, the home region and `call_as` in the config")
    action = _iam_action(service, operation)
    if code in _STALE_VIEW:
        return ProviderError(f"{action}{about} failed: {code}: {message}",
                             hint="the StackSet changed since it was read: run `clumio-org plan` again")
    if code == "LimitExceededException":
        return ProviderError(f"{action}{about} hit an AWS quota: {message}",
                             hint="check the CloudFormation StackSets quotas (instances per StackSet, concurrent "
                                  "operations) in Service Quotas and request an increase")
    if code in _ACCESS_DENIED and service == "organizations":
        return ProviderError(
            f"AWS denied {action}{about}: {message}",
            hint=f"allow {action}; Organizations answers only the management account and registered delegated "
                 "administrators: run as the management account, or register this account from there with `aws "
                 "organizations register-delegated-administrator --account-id ACCOUNT --service-principal "
                 f"{STACKSETS_SERVICE_PRINCIPAL}`")
    if code in _ACCESS_DENIED:
        return ProviderError(
            f"AWS denied {action}{about}: {message}",
            hint=f"allow {action} for the calling identity (check its IAM policy, permission boundary and any "
                 "SCP); a StackSets delegated administrator also needs `call_as: DELEGATED_ADMIN` in the config")
    if code in _EXPIRED:
        return CredentialsExpired(f"AWS credentials have expired ({action}{about}): {message}", hint=REFRESH_HINT)
    if code in _BAD_CREDENTIALS:
        return ProviderError(f"AWS did not accept the credentials ({action}{about}): {message}",
                             hint="check which profile/keys are in use with `aws sts get-caller-identity`; "
                                  + REFRESH_HINT)
    if code in _THROTTLED:
        return ProviderError(f"AWS kept throttling {action}{about} after retries: {message}",
                             hint="run again later, or lower the parallelism of other tools calling the same API")
    if code == "AWSOrganizationsNotInUseException":
        return ProviderError(f"the calling account is not in an AWS Organization ({action}): {message}",
                             hint="run with credentials of the management account or a StackSets delegated "
                                  "administrator")
    return ProviderError(f"{action}{about} failed: {code}: {message}")


def map_botocore_error(error: BotoCoreError, service: str, operation: str) -> ProviderError:
    """Errors raised before any AWS answer: no credentials, no region, endpoint unreachable."""
    action = _iam_action(service, operation)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ProviderError(f"no usable AWS credentials for {action}",
                             hint="configure the standard AWS credential chain (AWS_PROFILE, `aws configure`, "
                                  "SSO, or instance role) before running clumio-org")
    if isinstance(error, NoRegionError):
        return ProviderError(f"no AWS region for {action}", hint="set organization.home_region or AWS_REGION")
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError | ReadTimeoutError):
        return EndpointUnreachable(f"cannot reach the AWS endpoint for {action}: {error}",
                             hint="check the network, a proxy, or AWS_ENDPOINT_URL if you point at a sandbox")
    return ProviderError(f"{action} failed: {error}")


@contextmanager
def aws_errors(service: str, operation: str, subject: str = "") -> Iterator[None]:
    """Run one AWS call and raise our typed errors instead of botocore's."""
    try:
        yield
    except ClientError as error:
        raise map_client_error(error, service, operation, subject) from error
    except BotoCoreError as error:
        raise map_botocore_error(error, service, operation) from error


def call(client: Any, operation: str, subject: str = "", **params: Any) -> dict[str, Any]:
    """``client.<operation>(**params)`` with typed errors; ``operation`` is the AWS name (``DescribeStackSet``)."""
    method: Callable[..., dict[str, Any]] = getattr(client, _snake(operation))
    with aws_errors(client.meta.service_model.signing_name, operation, subject):
        return method(**params)


def paginate(client: Any, operation: str, result_key: str, subject: str = "", *,
             convert: Callable[[Any], Any] | None = None, **params: Any) -> list[Any]:
    """Every item of a paginated list call (pages followed until NextToken is absent, empty pages included). With
    ``convert``, each page's items are converted as the page arrives, so the raw dicts of one page at a time are
    held, never those of the whole listing (170,000 instance rows at 10,000 accounts × 17 regions)."""
    items: list[Any] = []
    with aws_errors(client.meta.service_model.signing_name, operation, subject):
        for page in client.get_paginator(_snake(operation)).paginate(**params):
            rows = page.get(result_key, [])
            items.extend(rows if convert is None else map(convert, rows))
    return items


_SNAKE_CACHE: dict[str, str] = {}


def _snake(operation: str) -> str:
    """``ListAWSServiceAccessForOrganization`` → ``list_aws_service_access_for_organization`` (botocore's rule)."""
    if operation not in _SNAKE_CACHE:
        from botocore import xform_name

        _SNAKE_CACHE[operation] = xform_name(operation)
    return _SNAKE_CACHE[operation]
