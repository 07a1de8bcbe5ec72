"""Clumio's org template: the facts every layer reads about it (its version, its hash, its secret parameters),
defined here once. Providers compute them at the edge and carry them on the typed models (``LiveStackSet``,
``ClumioTemplate``); nothing downstream re-parses a template body (tests/unit/test_single_facts.py checks)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

CLUMIO_TOKEN = "ClumioToken"
ROLE_EXTERNAL_ID = "RoleExternalId"
# The two NoEcho parameters Clumio hands out per organization (clumio-api.md §3.1): sent at apply time, stored
# nowhere (state keeps their fingerprints), shown as ``(sensitive)``.
SECRET_PARAMETERS: tuple[str, ...] = (CLUMIO_TOKEN, ROLE_EXTERNAL_ID)

# ``Metadata.ClumioTemplateVersion`` in a YAML or JSON body, read without parsing the whole template.
_VERSION = re.compile(r"""["']?ClumioTemplateVersion["']?\s*:\s*["']?([0-9A-Za-z._-]+)""")


def template_version_of(body: str) -> str | None:
    """``Metadata.ClumioTemplateVersion`` of a template body (YAML or JSON), or None when it has none."""
    match = _VERSION.search(body)
    return match.group(1) if match else None


def template_sha256(body: str) -> str:
    """The hex SHA-256 of a template body: what a plan pins and state records."""
    return hashlib.sha256(body.encode()).hexdigest()


def is_clumio_template(version: str | None, parameters: Collection[str]) -> bool:
    """Clumio's template: the version metadata, and both secret parameters (docs/reference/brownfield.md §1)."""
    return version is not None and all(name in parameters for name in SECRET_PARAMETERS)
