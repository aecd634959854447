"""Reading Zipkin v2 JSON spans as zipkin-go reads them, field by field; a span that cannot be
read raises SpanError naming the field."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from spanhouse.adapters.common.attributes import clean_text
from spanhouse.adapters.common.messages import describe
from spanhouse.adapters.common.times import MAX_TIME_NS

# zipkin-go reads a trace id of up to 32 hex digits (the high half first) and a span id of up
# to 16; ASCII only, as Python's int() would also take other scripts' digits.
_TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{1,32}", re.ASCII)
_SPAN_ID: Final = re.compile(r"[0-9a-fA-F]{1,16}", re.ASCII)
NO_SERVICE_NAME: Final = "OTLPResourceNoServiceName"  # contrib's sort key for spans without one
SCOPE_NAME_TAGS: Final = ("otel.library.name", "otel.scope.name")
SCOPE_VERSION_TAGS: Final = ("otel.library.version", "otel.scope.version")


class SpanError(ValueError):
    """A span that cannot be read; the message names the field."""


@dataclass(slots=True)
class Endpoint:
    service_name: str = ""
    ip: str | None = None  # ipv6 wins over ipv4, as contrib writes both to one attribute
    port: int = 0


@dataclass(slots=True)
class ZipkinSpan:
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    name: str
    kind: str
    timestamp_ns: int | None
    duration_ns: int
    shared: bool
    debug: bool
    local: Endpoint | None
    remote: Endpoint | None
    annotations: list[tuple[int, str]]
    tags: dict[str, str]

    @property
    def service_name(self) -> str:
        return self.local.service_name if self.local is not None and self.local.service_name else NO_SERVICE_NAME

    @property
    def scope(self) -> tuple[str, str]:
        return first_tag(self.tags, SCOPE_NAME_TAGS)[1], first_tag(self.tags, SCOPE_VERSION_TAGS)[1]


def read_span(item: Any) -> ZipkinSpan:
    if not isinstance(item, dict):
        raise SpanError(f": expected a span object, got {describe(item, literal=True)}")
    trace_id = read_id(item, "traceId", _TRACE_ID, 16)
    span_id = read_id(item, "id", _SPAN_ID, 8)
    if trace_id is None or not any(trace_id):
        # zipkin-go would read a zero id; OTLP forbids it, so the span could never be found.
        raise SpanError(".traceId: required, 1 to 32 hex digits, not all zeros")
    if span_id is None or not any(span_id):
        raise SpanError(".id: required, 1 to 16 hex digits, not all zeros")
    parent_id = read_id(item, "parentId", _SPAN_ID, 8) or b""
    timestamp = read_micros(item, "timestamp")
    return ZipkinSpan(
        trace_id=trace_id, span_id=span_id,
        # contrib: a parent equal to the span itself is no parent; a zero parent is none either.
        parent_id=parent_id if any(parent_id) and parent_id != span_id else b"",
        name=read_text(item, "name"), kind=read_text(item, "kind"),
        timestamp_ns=timestamp or None, duration_ns=read_micros(item, "duration") or 0,
        shared=read_flag(item, "shared"), debug=read_flag(item, "debug"),
        local=read_endpoint(item, "localEndpoint"), remote=read_endpoint(item, "remoteEndpoint"),
        annotations=read_annotations(item.get("annotations")), tags=read_tags(item.get("tags")))


def read_id(item: Mapping[str, Any], key: str, pattern: re.Pattern[str], size: int) -> bytes | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpanError(f".{key}: expected 1 to {size * 2} hex digits, got {describe(value, literal=True)}")
    # A 64-bit trace id is the low half of the 128 bits: left-padded with zeros.
    return int(value, 16).to_bytes(size, "big")


def read_micros(item: Mapping[str, Any], key: str) -> int | None:
    """Epoch or duration microseconds as nanoseconds. Integers as Zipkin sends them; a finite
    fraction (some JavaScript tracers) is kept to the nanosecond rather than refused."""
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            (isinstance(value, float) and not math.isfinite(value)):
        raise SpanError(f".{key}: expected a number of microseconds, got {describe(value, literal=True)}")
    whole = int(value)
    # The fraction apart: value * 1000 in binary floating point would be off by hundreds of ns.
    nanos = whole * 1000 + round((value - whole) * 1000)
    if not 0 <= nanos <= MAX_TIME_NS:
        raise SpanError(f".{key}: {value} microseconds is out of range (0 to {MAX_TIME_NS // 1000})")
    return nanos


def read_text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SpanError(f".{key}: expected a string, got {describe(value, literal=True)}")
    return clean_text(value)


def read_flag(item: Mapping[str, Any], key: str) -> bool:
    value = item.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SpanError(f".{key}: expected true or false, got {describe(value, literal=True)}")
    return value


def read_endpoint(item: Mapping[str, Any], key: str) -> Endpoint | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpanError(f".{key}: expected an object, got {describe(value, literal=True)}")
    try:
        endpoint = Endpoint(service_name=read_text(value, "serviceName"))
    except SpanError as error:
        raise SpanError(f".{key}{error}") from None
    for family in ("ipv4", "ipv6"):
        text = value.get(family)
        if text is None or text == "":
            continue
        try:
            if not isinstance(text, str):
                raise ValueError
            address = ipaddress.ip_address(text)
        except ValueError:
            raise SpanError(f".{key}.{family}: expected an IP address, got {describe(text, literal=True)}") from None
        # Go's net.IP prints an IPv4-mapped IPv6 address as the IPv4 address.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        endpoint.ip = str(mapped or address)
    port = value.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not -(2**63) <= port < 2**63:
            raise SpanError(f".{key}.port: expected an integer, got {describe(port, literal=True)}")
        endpoint.port = port
    return endpoint


def read_annotations(value: Any) -> list[tuple[int, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpanError(f".annotations: expected an array, got {describe(value, literal=True)}")
    annotations = []
    for index, annotation in enumerate(value):
        if not isinstance(annotation, dict):
            raise SpanError(f".annotations[{index}]: expected an object, got {describe(annotation, literal=True)}")
        try:
            annotations.append((read_micros(annotation, "timestamp") or 0, read_text(annotation, "value")))
        except SpanError as error:
            raise SpanError(f".annotations[{index}]{error}") from None
    return annotations


def read_tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpanError(f".tags: expected an object of strings, got {describe(value, literal=True)}")
    tags: dict[str, str] = {}
    for key, tag in value.items():
        if isinstance(tag, str):
            tags[clean_text(key)] = clean_text(tag)
        elif tag is None:
            tags[clean_text(key)] = ""  # Go reads a null string as ""
        elif isinstance(tag, bool):
            # Tags are strings in Zipkin's model; numbers and booleans some clients send are
            # kept as their JSON text rather than failing the batch.
            tags[clean_text(key)] = "true" if tag else "false"
        elif isinstance(tag, int) or (isinstance(tag, float) and math.isfinite(tag)):
            tags[clean_text(key)] = str(tag) if isinstance(tag, int) else orjson.dumps(tag).decode()
        else:
            raise SpanError(f".tags.{clean_text(key)}: expected a string, got {describe(tag, literal=True)}")
    return tags



def first_tag(tags: Mapping[str, str], keys: Sequence[str]) -> tuple[str, str]:
    """The first of `keys` with a non-empty value in `tags`, and that value."""
    return next(((key, tags[key]) for key in keys if tags.get(key)), ("", ""))
