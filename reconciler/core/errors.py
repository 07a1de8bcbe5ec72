"""The one error hierarchy every user-caused failure travels through."""

from __future__ import annotations


class ReconcilerError(Exception):
    """A failure the user can cause and fix.

    The CLI prints ``error: <message>`` and, when present, ``hint: <hint>``, then exits 1. Messages name the file,
    line, account, OU or setting to fix. Never put a secret in a message: they reach CI logs.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(ReconcilerError):
    """The desired-state file (or another input file) is wrong; ``diagnostics`` lists every problem found."""

    def __init__(self, message: str, hint: str | None = None, diagnostics: tuple[object, ...] = ()) -> None:
        super().__init__(message, hint)
        self.diagnostics = diagnostics


class PreflightError(ReconcilerError):
    """The AWS organization or Clumio account is not ready for the tool (trusted access off, wrong org …)."""


class ProviderError(ReconcilerError):
    """AWS or Clumio refused or failed a call in a way retries did not cure."""


class StateError(ReconcilerError):
    """The state file cannot be read, written, or is not the one expected."""


class Resumable:
    """Marks an error that stops a run for a reason outside it — credentials that expired or were revoked, an AWS or
    Clumio endpoint or the state backend that went away. Nothing is lost: ``apply`` stops submitting, keeps its
    journal and exits 4; the next run (with fresh credentials, once the endpoint is back) resumes."""


class CredentialsExpired(ProviderError, Resumable):
    """AWS answered ExpiredToken, or Clumio refused the API token (HTTP 401/403) — expired, rotated or revoked."""


class EndpointUnreachable(ProviderError, Resumable):
    """An AWS or Clumio endpoint could not be reached (connection refused or reset, timed out) after retries."""


class StateUnavailable(StateError, Resumable):
    """The state backend kept failing (S3 5xx, slow down, unreachable) after retries; nothing was overwritten."""


class StateLockedError(StateError):
    """Another run holds the state lock."""


class PlanStaleError(ReconcilerError):
    """A saved plan no longer matches the desired file, the live world or the state it was made against."""
