"""Clumio portals and their API base URLs (reference/clumio-api.md §1)."""

from __future__ import annotations

# The portal a user logs in to decides the API host; ca/eu/au hosts carry an extra country label.
PORTAL_API_URLS: dict[str, str] = {
    "west": "https://us-west-2.api.clumio.com",
    "east": "https://us-east-1.api.clumio.com",
    "canada": "https://ca-central-1.ca.api.clumio.com",
    "eu1": "https://eu-central-1.de.api.clumio.com",
    "au": "https://ap-southeast-2.au.api.clumio.com",
}

# Portal host names as users see them in the browser, including the older names in Clumio's docs.
PORTAL_HOSTS: dict[str, str] = {
    "west.portal.clumio.com": "west",
    "portal.clumio.com": "west",
    "east.portal.clumio.com": "east",
    "us2.portal.clumio.com": "east",
    "canada.portal.clumio.com": "canada",
    "eu1.portal.clumio.com": "eu1",
    "au.portal.clumio.com": "au",
}


# The AWS region each portal's API runs in, as it appears in the API host name.
PORTAL_REGIONS: dict[str, str] = {
    "us-west-2": "west",
    "us-east-1": "east",
    "ca-central-1": "canada",
    "eu-central-1": "eu1",
    "ap-southeast-2": "au",
}


def portal_names() -> list[str]:
    """Every spelling of a portal the file accepts: name, host, or the API's region."""
    return [*PORTAL_API_URLS, *PORTAL_HOSTS, *PORTAL_REGIONS]


def api_url_for_portal(portal: str) -> str | None:
    """The API base URL for a portal name, host or API region, or None when the portal is unknown."""
    name = PORTAL_HOSTS.get(portal) or PORTAL_REGIONS.get(portal) or portal
    return PORTAL_API_URLS.get(name)


def normalize_api_url(url: str) -> str:
    """Clumio's clients strip a trailing slash from the base URL; so do we, so paths join cleanly."""
    return url.rstrip("/")
