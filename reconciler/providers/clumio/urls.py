"""Where the Clumio API lives: a base URL, a bare host, or a portal name mapped per reference/clumio-api.md §1."""

from __future__ import annotations

import os

from reconciler.core.errors import ReconcilerError

API_URL_ENV = "CLUMIO_API_URL"

# Portal (as users know it from the browser) → API base URL (clumio-api.md §1).
PORTAL_API_URLS: dict[str, str] = {
    "west.portal.clumio.com": "https://us-west-2.api.clumio.com",
    "portal.clumio.com": "https://us-west-2.api.clumio.com",
    "east.portal.clumio.com": "https://us-east-1.api.clumio.com",
    "us2.portal.clumio.com": "https://us-east-1.api.clumio.com",
    "canada.portal.clumio.com": "https://ca-central-1.ca.api.clumio.com",
    "eu1.portal.clumio.com": "https://eu-central-1.de.api.clumio.com",
    "au.portal.clumio.com": "https://ap-southeast-2.au.api.clumio.com",
}
# Short names a config may use instead of the portal host.
PORTAL_ALIASES: dict[str, str] = {
    "west": "west.portal.clumio.com", "us-west-2": "west.portal.clumio.com",
    "east": "east.portal.clumio.com", "us-east-1": "east.portal.clumio.com",
    "canada": "canada.portal.clumio.com", "ca-central-1": "canada.portal.clumio.com",
    "eu1": "eu1.portal.clumio.com", "eu": "eu1.portal.clumio.com", "eu-central-1": "eu1.portal.clumio.com",
    "au": "au.portal.clumio.com", "ap-southeast-2": "au.portal.clumio.com",
}


def resolve_api_url(configured: str | None, environ: dict[str, str] | None = None) -> str:
    """The API base URL, without a trailing slash: CLUMIO_API_URL when set, else the config's ``clumio.api_url``
    (a URL, an API host, a portal host such as ``east.portal.clumio.com`` or a short name such as ``east``)."""
    env = os.environ if environ is None else environ
    value = (env.get(API_URL_ENV) or configured or "").strip()
    if not value:
        raise ReconcilerError("no Clumio API URL configured",
                              hint=f"set clumio.api_url in the config (e.g. east.portal.clumio.com) or {API_URL_ENV}")
    lowered = value.lower().rstrip("/")
    portal = PORTAL_ALIASES.get(lowered, lowered.removeprefix("https://").removeprefix("http://"))
    if portal in PORTAL_API_URLS:
        return PORTAL_API_URLS[portal]
    if "://" not in value:
        value = "https://" + value
    return value.rstrip("/")
