"""A lighter botocore response parser for the one read that comes in bulk: ListStackInstances.

At 10,000 accounts × 17 regions discovery parses 1,700 ListStackInstances pages of 100 rows; botocore's query parser
spends most of that time in generic Python per XML node (a regex to strip the namespace from every tag, the member
table of each structure rebuilt for every row, a handler looked up by name for every value). This parser is
botocore's own ``QueryParser`` with a faster ``_handle_structure`` — the same output, dict for dict — used only under
the output shapes in :data:`FAST_OUTPUTS`; every other response goes through botocore's code unchanged. It is
plugged in through botocore's extension point for it, the session's ``response_parser_factory`` component
(:func:`install`), not by patching botocore.
"""

from __future__ import annotations

from typing import Any

from botocore.parsers import PROTOCOL_PARSERS, QueryParser, ResponseParserFactory

FAST_OUTPUTS = frozenset({"ListStackInstancesOutput"})

# Per structure shape: {XML element name: (member name, member shape, whether the value is plain text)} — or None
# when a member is one botocore treats specially (headers, attributes, flattened lists, unions, errors). Tags met
# with their namespace (``{http://…}Account``) are added as they come, the element of no member as None: a page's
# 900 tags are then one dict read each, not a slice each.
_Members = dict[str, tuple[str, Any, bool] | None]
_MEMBERS: dict[int, tuple[Any, _Members | None]] = {}
_TEXT_TYPES = frozenset({"string"})
_UNSEEN: Any = object()


def _members(parser: QueryParser, shape: Any) -> _Members | None:
    cached = _MEMBERS.get(id(shape))
    if cached is not None and cached[0] is shape:
        return cached[1]
    table: _Members | None = None
    if not shape.is_tagged_union and not shape.metadata.get("exception", False):
        rows: _Members = {}
        plain = True
        for name, member in shape.members.items():
            ser = member.serialization
            if ser.get("location") or ser.get("eventheader") or ser.get("xmlAttribute") or ser.get("flattened"):
                plain = False
                break
            rows[parser._member_key_name(member, name)] = (name, member, member.type_name in _TEXT_TYPES)
        table = rows if plain else None
    _MEMBERS[id(shape)] = (shape, table)
    return table


class FastQueryParser(QueryParser):  # type: ignore[misc]  # botocore ships no types
    """botocore's QueryParser; under a :data:`FAST_OUTPUTS` shape, a structure's elements are read in one pass,
    each looked up in a cached member table by its tag (stripped of its namespace by plain string slicing), text
    members taken straight from the element — the dicts botocore's ``_handle_structure`` and ``_handle_string``
    produce (their keys in the elements' order, not the model's). An element that repeats, which botocore would
    gather into a list, sends that structure through botocore's own code."""

    _fast = False

    def _do_parse(self, response: dict[str, Any], shape: Any) -> Any:
        self._fast = shape is not None and shape.name in FAST_OUTPUTS
        return super()._do_parse(response, shape)

    def _handle_structure(self, shape: Any, node: Any) -> Any:
        table = _members(self, shape) if self._fast and not isinstance(node, list) else None
        if table is None:
            return super()._handle_structure(shape, node)
        parsed: dict[str, Any] = {}
        for item in node:
            tag = item.tag
            member = table.get(tag, _UNSEEN)
            if member is _UNSEEN:
                member = table[tag] = table.get(tag[tag.index("}") + 1:]) if tag[:1] == "{" else None
            if member is None:
                continue
            name, member_shape, text = member
            if name in parsed:
                return super()._handle_structure(shape, node)
            if text:
                value = item.text
                parsed[name] = "" if value is None else value
            else:
                parsed[name] = self._parse_shape(member_shape, item)
        return parsed


class FastResponseParserFactory(ResponseParserFactory):  # type: ignore[misc]  # botocore ships no types
    """botocore's factory, handing out :class:`FastQueryParser` for the query protocol (CloudFormation's)."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "query":
            return FastQueryParser(**self._defaults)
        return PROTOCOL_PARSERS[protocol_name](**self._defaults)


def install(botocore_session: Any) -> None:
    """Make every client of ``botocore_session`` parse responses with :class:`FastResponseParserFactory`."""
    botocore_session.register_component("response_parser_factory", FastResponseParserFactory())
