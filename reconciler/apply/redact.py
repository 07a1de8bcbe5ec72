"""Log redaction while apply runs: with ``--debug``, botocore logs every request's parameters at DEBUG — including
the NoEcho ClumioToken and RoleExternalId apply sends. Every log record is scrubbed of the secret values in play."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator

from reconciler.core.secrets import Secret

MASK = "****"


class RedactingFilter(logging.Filter):
    """Replaces every known secret value in a record's rendered message (and exception text) with ``****``."""

    def __init__(self) -> None:
        super().__init__("clumio-org-redact")
        self.values: set[str] = set()

    def add(self, values: Iterable[Secret | str | None]) -> None:
        for value in values:
            text = value.reveal() if isinstance(value, Secret) else value
            if text and len(text) >= 4:  # a 1–3 character "secret" would blank out ordinary words
                self.values.add(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.values:
            return True
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True

    def _scrub(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text


_FILTER = RedactingFilter()


def remember(*values: Secret | str | None) -> None:
    """Secrets apply holds: from now on they never appear in a log line."""
    _FILTER.add(values)


@contextlib.contextmanager
def redacted_logs() -> Iterator[RedactingFilter]:
    """Attach the filter to every handler of the root logger (handler filters also see records propagated from
    child loggers such as botocore's, logger filters do not) for the duration of the block."""
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(_FILTER)
    try:
        yield _FILTER
    finally:
        for handler in handlers:
            handler.removeFilter(_FILTER)
