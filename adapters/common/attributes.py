"""Building OTLP attributes from vendor values: typed where OTLP has the type, JSON strings for
structured values (as the issue's mapping rules ask), nothing silently dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from spanhouse.collector.core.component import Traces


def is_utf8(text: str) -> bool:
    """Whether `text` encodes to UTF-8, i.e. holds no lone surrogate (which JSON can carry)."""
    if text.isascii():
        return True  # a flag of the str object: no lone surrogate, and no copy of the text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """The text with lone surrogates replaced by U+FFFD (as Go's JSON decoder does)."""
    if text.isascii() or is_utf8(text):  # isascii() first: it spares a call on most texts
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def set_any_value(target: AnyValue, value: Any) -> None:
    """Scalars keep their type; a list of strings stays an array; anything else (objects,
    mixed lists) becomes its JSON text. Integers beyond int64 become strings."""
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        values = target.array_value.values
        for item in value:
            values.add().string_value = item
    else:
        target.string_value = to_json(value)


def put(attributes: Any, key: str, value: Any) -> None:
    """Appends `key=value` to a repeated KeyValue field unless the value is None."""
    if value is None:
        return
    # Built in place: appending a constructed KeyValue copies it, which made attributes the
    # largest cost of translating a vendor span (bench.adapters).
    attribute = attributes.add()
    try:
        attribute.key = key
        set_any_value(attribute.value, value)
    except BaseException:
        del attributes[-1]  # a value protobuf refuses (a lone surrogate) leaves no half attribute
        raise


def put_all(attributes: Any, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
    pairs = items.items() if isinstance(items, Mapping) else items
    for key, value in pairs:
        put(attributes, key, value)


def put_flattened(attributes: Any, prefix: str, value: Any, max_depth: int = 4, max_items: int = 256) -> int:
    """`prefix.a.b=value` for nested objects, up to `max_depth` levels and `max_items`
    attributes; deeper or larger parts are kept as JSON strings. Returns attributes added."""
    added = 0
    stack: list[tuple[str, Any, int]] = [(prefix, value, 0)]
    while stack and added < max_items:
        key, current, depth = stack.pop()
        if isinstance(current, dict) and current and depth < max_depth:
            stack.extend((f"{key}.{name}", item, depth + 1) for name, item in reversed(list(current.items())))
            continue
        if current is None:
            continue
        put(attributes, key, current)
        added += 1
    return added


def new_traces(service_name: str, resource_attributes: Mapping[str, Any] | None = None,
               scope_name: str = "spanhouse", scope_version: str = "") -> tuple[Traces, Any]:
    """An ExportTraceServiceRequest with one resource and one scope; returns it and the
    scope's repeated `spans` field to append to."""
    traces = Traces()
    resource_spans = traces.resource_spans.add()
    put(resource_spans.resource.attributes, "service.name", service_name)
    if resource_attributes:
        put_all(resource_spans.resource.attributes, resource_attributes)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope_name
    scope_spans.scope.version = scope_version
    return traces, scope_spans.spans
