"""GeoReport v2 bodies in JSON and XML, and the specification's error lists.

The same Python value renders both ways: a dict is an element with children, a list repeats the
item element the specification names for it (`services` holds `service`, `service_requests`
holds `request`, ...), None is an empty element, booleans are `true`/`false`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, tostring

from django.http import HttpResponse

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

# The element of one item in each list, as the specification names it.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "jurisdictions": "jurisdiction",
}

# Characters XML 1.0 cannot hold even escaped; ElementTree would write them raw.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(tag: str, value: Any) -> Element:
    element = Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list | tuple):
        item = ITEM_TAGS[tag]
        for child in value:
            element.append(_element(item, child))
    else:
        text = _text(value)
        if text:
            element.text = text
    return element


def to_xml(root: str, value: Any) -> bytes:
    return tostring(_element(root, value), encoding="utf-8", xml_declaration=True)


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def render(fmt: str, root: str, value: Any, *, status: int = 200) -> HttpResponse:
    """`value` as `fmt` ("json" or "xml"); `root` names the XML document element."""
    body = to_xml(root, value) if fmt == "xml" else to_json(value)
    return HttpResponse(body, content_type=CONTENT_TYPES[fmt], status=status)


def errors(fmt: str, status: int, descriptions: Sequence[str]) -> HttpResponse:
    """The specification's error list: `[{"code": 400, "description": "..."}]`."""
    items = [{"code": status, "description": str(d)} for d in descriptions]
    return render(fmt if fmt in FORMATS else "json", "errors", items, status=status)
