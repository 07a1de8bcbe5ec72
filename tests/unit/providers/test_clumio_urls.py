"""The Clumio API base URL: a portal name maps to its API host (reference/clumio-api.md §1); CLUMIO_API_URL wins."""

from __future__ import annotations

import pytest

from reconciler.core.errors import ReconcilerError
from reconciler.providers.clumio.urls import resolve_api_url


@pytest.mark.parametrize(("configured", "expected"), [
    ("west.portal.clumio.com", "https://us-west-2.api.clumio.com"),
    ("https://portal.clumio.com/", "https://us-west-2.api.clumio.com"),
    ("east", "https://us-east-1.api.clumio.com"),
    ("us2.portal.clumio.com", "https://us-east-1.api.clumio.com"),
    ("canada.portal.clumio.com", "https://ca-central-1.ca.api.clumio.com"),
    ("eu1.portal.clumio.com", "https://eu-central-1.de.api.clumio.com"),
    ("au", "https://ap-southeast-2.au.api.clumio.com"),
    ("us-west-2.api.clumio.com", "https://us-west-2.api.clumio.com"),
    ("https://us-east-1.api.clumio.com/", "https://us-east-1.api.clumio.com"),
])
def test_portal_names_and_hosts_become_api_base_urls(configured: str, expected: str) -> None:
    assert resolve_api_url(configured, {}) == expected


def test_clumio_api_url_overrides_the_config() -> None:
    env = {"CLUMIO_API_URL": "http://127.0.0.1:8080/clumio/"}
    assert resolve_api_url("east", env) == "http://127.0.0.1:8080/clumio"


def test_no_url_anywhere_is_a_user_error() -> None:
    with pytest.raises(ReconcilerError) as error:
        resolve_api_url("", {})
    assert "CLUMIO_API_URL" in (error.value.hint or "")
