"""The XML request bodies the sandbox's S3 reads (PutBucketVersioning, CompleteMultipartUpload)."""

from __future__ import annotations

from xml.etree import ElementTree

from reconciler.sandbox.api import AwsFault


def _parse_xml(body: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise AwsFault("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                                       "published schema") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_text_of(body: bytes, name: str) -> str:
    """The text of the first element named ``name`` (any namespace), or ""."""
    for element in _parse_xml(body).iter():
        if _local(element.tag) == name:
            return (element.text or "").strip()
    return ""


def completed_parts(body: bytes) -> list[tuple[int, str]]:
    """(part number, ETag) of every Part in a CompleteMultipartUpload body."""
    parts = []
    for part in _parse_xml(body):
        if _local(part.tag) != "Part":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in part}
        try:
            parts.append((int(fields.get("PartNumber", "")), fields.get("ETag", "")))
        except ValueError:
            raise AwsFault("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                           "our published schema") from None
    return parts
