"""A ListConnections page read by the typed decoder gives exactly the connections (and next start) json.loads and
the dict path give, for well-formed pages and for the odd ones the typed decoder hands back to json.loads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.providers.clumio.client import _connection, _connections_page, _next_start


def _item(n: int, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "_links": {"_self": {"href": f"/connections/aws/{n}"}}, "id": f"10000000000{n}_us-east-1",
        "account_native_id": f"10000000000{n}", "aws_region": "us-east-1", "connection_status": "connected",
        "config": {"installed_template_version": "24.4", "ebs": {"installed_template_version": "25.4"}},
        "created_timestamp": "2026-12-03T11:23:13Z", "stack_arn": f"arn:aws:cloudformation:us-east-1:1:stack/s{n}/x",
        "stack_name": f"s{n}", "retired_stack_arn": None, "connection_group_id": None, "token": "t",
        "protect_asset_types_enabled": ["EC2/EBS", "S3"],
    }
    item.update(over)
    return item


def _page(*items: dict[str, Any], start: str | None = "MTAw") -> dict[str, Any]:
    links = {"_next": {"href": f"/connections/aws?limit=100&start={start}"}} if start else {}
    return {"_embedded": {"items": list(items)}, "_links": links, "current_count": len(items), "limit": 100}


def _dict_path(raw: bytes) -> tuple[list[Any], str | None]:
    data = json.loads(raw)
    return [_connection(item) for item in (data.get("_embedded") or {}).get("items", [])], _next_start(data)


PAGES = [
    _page(_item(1), _item(2)),
    _page(_item(1), start=None),
    _page(_item(1, id=None, config=None, created_timestamp=None), _item(2, config={})),
    _page(_item(1, connection_status="connecting", stack_arn="", retired_stack_arn="arn:old", connection_group_id="g")),
    _page(_item(1, account_native_id=123456789012, config={"installed_template_version": 24})),
    _page(_item(1, config=[])),
    {"_embedded": None, "_links": None},
    {},
]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_the_same_as_through_json_loads(page: dict[str, Any]) -> None:
    raw = json.dumps(page).encode()
    assert _connections_page(raw) == _dict_path(raw)


def test_a_page_not_in_utf8_is_read_by_json_loads() -> None:
    raw = json.dumps(_page(_item(1))).encode("utf-16")
    assert _connections_page(raw) == _dict_path(raw)


def test_a_body_that_is_not_json_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        _connections_page(b"<html>portal</html>")


NEXT_HREFS = [
    "/connections/aws?limit=100&filter=%7B%22aws_region%22%3A%7B%22%24in%22%3A%5B%22us-east-1%22%5D%7D%7D&start=MTAw",
    "/connections/aws?start=MjAw&limit=100",
    "/connections/aws?limit=100&start=&start=MzAw",  # a blank start is skipped, as parse_qs skips it
    "/connections/aws?limit=100&start=a%2Bb+c&start=second",  # unquoted; the first one wins
    "/connections/aws?limit=100&st%61rt=encoded-name",
    "/connections/aws?limit=100&start",  # no value at all
    "/connections/aws?limit=100&restart=no",
    "/connections/aws?limit=100",
    "https://us-west-2.api.clumio.com/connections/aws?limit=100&start=NDAw#frag",
]


@pytest.mark.parametrize("href", NEXT_HREFS)
def test_the_next_start_is_the_one_parse_qs_reads(href: str) -> None:
    from urllib.parse import parse_qs, urlsplit

    expected = (parse_qs(urlsplit(href).query).get("start") or [None])[0]
    assert _next_start({"_links": {"_next": {"href": href}}}) == expected
    assert _connections_page(json.dumps(_page(_item(1), start=None) | {"_links": {"_next": {"href": href}}})
                             .encode())[1] == expected
