"""Zipkin v2 JSON (`POST /api/v2/spans`) to OTLP, mapped as the OpenTelemetry Collector contrib
zipkin receiver maps it (pkg/translator/zipkin/zipkinv2/to_translator.go, ids parsed as
openzipkin/zipkin-go does); where spanhouse departs from it, docs/adapters/zipkin.md says why."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from adapters.attributes import put
from adapters.base import (
    AdapterPlugin,
    AdapterReceiverConfig,
    AdapterRequest,
    AdapterResponse,
    AdapterResult,
    Route,
    StateView,
)
from collector.component import Traces
from collector.config.types import ADDRESS

# zipkin-go reads a trace id of up to 32 hex digits (the high half first) and a span id of up
# to 16; ASCII only, as Python's int() would also take other scripts' digits.
_TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{1,32}", re.ASCII)
_SPAN_ID: Final = re.compile(r"[0-9a-fA-F]{1,16}", re.ASCII)
KINDS: Final = {"CLIENT": Span.SPAN_KIND_CLIENT, "SERVER": Span.SPAN_KIND_SERVER,
                "PRODUCER": Span.SPAN_KIND_PRODUCER, "CONSUMER": Span.SPAN_KIND_CONSUMER}
# Contrib knows the STATUS_CODE_* spellings; the OpenTelemetry Zipkin exporters write OK / ERROR.
STATUS_CODES: Final = {"STATUS_CODE_UNSET": Status.STATUS_CODE_UNSET, "STATUS_CODE_OK": Status.STATUS_CODE_OK,
                       "STATUS_CODE_ERROR": Status.STATUS_CODE_ERROR, "UNSET": Status.STATUS_CODE_UNSET,
                       "OK": Status.STATUS_CODE_OK, "ERROR": Status.STATUS_CODE_ERROR}
NO_SERVICE_NAME: Final = "OTLPResourceNoServiceName"  # contrib's sort key for spans without one
START_TIME_ABSENT: Final = "otel.zipkin.absentField.startTime"
SERVICE_NAME_SOURCE: Final = "otlp.service.name.source"
SCOPE_NAME_TAGS: Final = ("otel.library.name", "otel.scope.name")
SCOPE_VERSION_TAGS: Final = ("otel.library.version", "otel.scope.version")
MAX_LINKS: Final = 128
MAX_TIME_NS: Final = 2**63 - 1  # Go's time.UnixNano and ClickHouse's DateTime64(9) end in 2262
# Tags that describe the resource, not the span (contrib: the v1.6.1 resource conventions plus
# OpenCensus leftovers); they move to the resource of their service.
RESOURCE_TAGS: Final = frozenset({
    "cloud.provider", "cloud.account.id", "cloud.region", "cloud.availability_zone", "cloud.platform",
    "aws.ecs.container.arn", "aws.ecs.cluster.arn", "aws.ecs.launchtype", "aws.ecs.task.arn",
    "aws.ecs.task.family", "aws.ecs.task.revision", "aws.eks.cluster.arn", "aws.log.group.names",
    "aws.log.group.arns", "aws.log.stream.names", "aws.log.stream.arns", "container.name", "container.id",
    "container.runtime", "container.image.name", "container.image.tag", "deployment.environment", "device.id",
    "device.model.identifier", "device.model.name", "faas.name", "faas.id", "faas.version", "faas.instance",
    "faas.max_memory", "host.id", "host.name", "host.type", "host.arch", "host.image.name", "host.image.id",
    "host.image.version", "k8s.cluster.name", "k8s.node.name", "k8s.node.uid", "k8s.namespace.name",
    "k8s.pod.uid", "k8s.pod.name", "k8s.container.name", "k8s.replicaset.uid", "k8s.replicaset.name",
    "k8s.deployment.uid", "k8s.deployment.name", "k8s.statefulset.uid", "k8s.statefulset.name",
    "k8s.daemonset.uid", "k8s.daemonset.name", "k8s.job.uid", "k8s.job.name", "k8s.cronjob.uid",
    "k8s.cronjob.name", "os.type", "os.description", "os.name", "os.version", "process.pid",
    "process.executable.name", "process.executable.path", "process.command", "process.command_line",
    "process.command_args", "process.owner", "process.runtime.name", "process.runtime.version",
    "process.runtime.description", "service.name", "service.namespace", "service.instance.id", "service.version",
    "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version", "telemetry.auto.version",
    "webengine.name", "webengine.version", "webengine.description",
    "opencensus.starttime", "opencensus.exporterversion", "opencensus.resourcetype",
})


@dataclass(frozen=True, slots=True)
class ZipkinConfig(AdapterReceiverConfig):
    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:9411", metadata={
        "description": "host:port this receiver listens on (9411 is Zipkin's port)."})


@dataclass(frozen=True, slots=True)
class ZipkinAdapter:
    config: ZipkinConfig

    @property
    def routes(self) -> Sequence[Route]:
        return (Route("POST", "/api/v2/spans", handle_spans),)

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        # Zipkin servers answer errors with a line of text; a JSON object holding that line
        # keeps one content type for every answer of this receiver.
        return AdapterResponse(status, {"error": message or code})


PLUGIN: Final = AdapterPlugin(name="zipkin", config_class=ZipkinConfig, create=ZipkinAdapter,
                              description="Zipkin v2 JSON spans (POST /api/v2/spans)")


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


def handle_spans(request: AdapterRequest, state: StateView) -> AdapterResult:
    body = request.body
    if not isinstance(body, list):
        return bad_request("expected a JSON list of Zipkin v2 spans" + ("" if body is None else
                                                                          f", got {describe(body)}"))
    spans: list[ZipkinSpan] = []
    for index, item in enumerate(body):
        try:
            spans.append(read_span(item))
        except SpanError as error:
            return bad_request(f"spans[{index}]{error}")
    # An empty list is what Zipkin servers accept with 202 too.
    return AdapterResult(AdapterResponse(202, None), to_traces(spans) if spans else None)


def bad_request(message: str) -> AdapterResult:
    return AdapterResult(AdapterResponse(400, {"error": clean_text(message)}))


# ---- reading ----------------------------------------------------------------------------


def read_span(item: Any) -> ZipkinSpan:
    if not isinstance(item, dict):
        raise SpanError(f": expected a span object, got {describe(item)}")
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
        raise SpanError(f".{key}: expected 1 to {size * 2} hex digits, got {describe(value)}")
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
        raise SpanError(f".{key}: expected a number of microseconds, got {describe(value)}")
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
        raise SpanError(f".{key}: expected a string, got {describe(value)}")
    return clean_text(value)


def read_flag(item: Mapping[str, Any], key: str) -> bool:
    value = item.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SpanError(f".{key}: expected true or false, got {describe(value)}")
    return value


def read_endpoint(item: Mapping[str, Any], key: str) -> Endpoint | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpanError(f".{key}: expected an object, got {describe(value)}")
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
            raise SpanError(f".{key}.{family}: expected an IP address, got {describe(text)}") from None
        # Go's net.IP prints an IPv4-mapped IPv6 address as the IPv4 address.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        endpoint.ip = str(mapped or address)
    port = value.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not -(2**63) <= port < 2**63:
            raise SpanError(f".{key}.port: expected an integer, got {describe(port)}")
        endpoint.port = port
    return endpoint


def read_annotations(value: Any) -> list[tuple[int, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpanError(f".annotations: expected an array, got {describe(value)}")
    annotations = []
    for index, annotation in enumerate(value):
        if not isinstance(annotation, dict):
            raise SpanError(f".annotations[{index}]: expected an object, got {describe(annotation)}")
        try:
            annotations.append((read_micros(annotation, "timestamp") or 0, read_text(annotation, "value")))
        except SpanError as error:
            raise SpanError(f".annotations[{index}]{error}") from None
    return annotations


def read_tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpanError(f".tags: expected an object of strings, got {describe(value)}")
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
            raise SpanError(f".tags.{clean_text(key)}: expected a string, got {describe(tag)}")
    return tags


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = clean_text(value[:40])
        return orjson.dumps(shown).decode() + ("..." if len(value) > 40 else "")
    if isinstance(value, int | float):
        text = repr(value)
        return "number " + (text if len(text) <= 40 else text[:40] + "...")
    return "an array" if isinstance(value, list) else "an object"


def clean_text(text: str) -> str:
    """Lone surrogates replaced by U+FFFD, as Go's JSON decoder does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def first_tag(tags: Mapping[str, str], keys: Sequence[str]) -> tuple[str, str]:
    """The first of `keys` with a non-empty value in `tags`, and that value."""
    return next(((key, tags[key]) for key in keys if tags.get(key)), ("", ""))


# ---- mapping ----------------------------------------------------------------------------


def to_traces(spans: Sequence[ZipkinSpan]) -> Traces:
    """Contrib's grouping: spans sorted by local service name, then instrumentation library
    (stably here, so the sender's order holds within a group); one ResourceSpans per service
    and one ScopeSpans per library."""
    traces = Traces()
    resource_spans: Any = None
    scope_spans: Any = None
    service: str | None = None
    scope: tuple[str, str] | None = None
    resource_values: dict[str, str] = {}
    for span in sorted(spans, key=lambda span: (span.service_name, span.scope[0])):
        tags = dict(span.tags)
        if span.service_name != service:
            service, scope = span.service_name, None
            resource_spans = traces.resource_spans.add()
            resource_values = resource_from(resource_spans.resource.attributes, service, tags)
        else:
            # Contrib drops a later span's resource tags; only those its resource already
            # holds with the same value go here, a different value stays on the span.
            for key in [key for key in tags if key in resource_values and tags[key] == resource_values[key]]:
                del tags[key]
        if span.scope != scope:
            scope = span.scope
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name, scope_spans.scope.version = scope
        for keys in (SCOPE_NAME_TAGS, SCOPE_VERSION_TAGS):
            tags.pop(first_tag(tags, keys)[0], None)
        append_span(scope_spans.spans, span, tags)
    return traces


def resource_from(attributes: Any, service: str, tags: dict[str, str]) -> dict[str, str]:
    """Fills a resource from the first span of its service, taking the resource tags out of
    `tags`; returns what the resource holds, so that later spans of the service drop the same
    tags."""
    taken: dict[str, str] = {}
    source = tags.pop(SERVICE_NAME_SOURCE, None)
    if source is not None:
        taken[SERVICE_NAME_SOURCE] = source
    values: dict[str, str] = {}
    if service != NO_SERVICE_NAME:
        # `otlp.service.name.source` names the attribute the service name came from.
        values[source or "service.name"] = service
    for key in [key for key in tags if key in RESOURCE_TAGS]:
        values[key] = taken[key] = tags.pop(key)
    for key, value in values.items():
        put(attributes, key, value)
    return taken | values


def append_span(spans: Any, span: ZipkinSpan, tags: dict[str, str]) -> None:
    out = spans.add()
    out.trace_id = span.trace_id
    out.span_id = span.span_id
    if span.parent_id:
        out.parent_span_id = span.parent_id
    trace_state = tags.pop("w3c.tracestate", None)
    if trace_state:
        out.trace_state = trace_state
    out.name = span.name
    out.kind = span_kind(span.kind, tags)
    set_status(out.status, tags)
    add_links(out.links, tags)
    attributes: dict[str, Any] = dict(tags)
    if span.local is not None:
        if span.local.ip:
            attributes["net.host.ip"] = span.local.ip
        if span.local.port > 0:
            attributes["net.host.port"] = span.local.port
    if span.remote is not None:
        if span.remote.service_name:
            attributes["peer.service"] = span.remote.service_name
        if span.remote.ip:
            attributes["net.peer.ip"] = span.remote.ip
        if span.remote.port > 0:
            attributes["net.peer.port"] = span.remote.port
    # Contrib drops these two flags; kept so that nothing sent is lost.
    if span.shared:
        attributes["zipkin.shared"] = True
    if span.debug:
        attributes["zipkin.debug"] = True
    if span.timestamp_ns is None:
        # Contrib's rule: no timestamp starts at the Unix epoch and says so.
        attributes[START_TIME_ABSENT] = True
    start_ns = span.timestamp_ns or 0
    out.start_time_unix_nano = start_ns
    out.end_time_unix_nano = min(start_ns + span.duration_ns, 2**64 - 1)
    for key, value in attributes.items():
        put(out.attributes, key, value)
    for timestamp_ns, value in span.annotations:
        event = out.events.add()
        event.time_unix_nano = timestamp_ns
        event.name = value
        decoded = decode_piped(value, 3)
        if decoded is not None:
            # OpenTelemetry's Zipkin exporters write an event as "name|{attributes}|dropped".
            parts, attribute_map, dropped = decoded
            event.name = parts[0]
            put_json_attributes(event.attributes, attribute_map)
            event.dropped_attributes_count = dropped


def span_kind(kind: str, tags: dict[str, str]) -> Any:
    if kind in KINDS:
        return KINDS[kind]
    if tags.get("span.kind") == "internal":
        del tags["span.kind"]
        return Span.SPAN_KIND_INTERNAL
    return Span.SPAN_KIND_UNSPECIFIED


def set_status(status: Any, tags: dict[str, str]) -> None:
    code = tags.pop("otel.status_code", None)
    if code is not None:
        status.code = STATUS_CODES.get(code, Status.STATUS_CODE_UNSET)
        description = tags.pop("otel.status_description", None)
        if description is not None:
            status.message = description
    error = tags.get("error")
    if error is None or error == "false":
        return
    # Zipkin marks a failed span with an `error` tag whose value is the message (Brave) or
    # "true"; contrib reads only "true", the message becomes the status message here.
    status.code = Status.STATUS_CODE_ERROR
    if error != "true" and not status.message:
        status.message = error
    if error in ("true", status.message):  # said by the status now (OTel exporters repeat the description)
        del tags["error"]


def add_links(links: Any, tags: dict[str, str]) -> None:
    """`otlp.link.N` = "traceid|spanid|tracestate|{attributes}|dropped", as OpenTelemetry's
    Zipkin exporters write links; a tag that does not parse stays an attribute."""
    for index in range(MAX_LINKS):
        key = f"otlp.link.{index}"
        value = tags.get(key)
        if value is None:
            return
        decoded = decode_piped(value, 5)
        if decoded is None:
            continue
        parts, attribute_map, dropped = decoded
        try:
            trace_id, span_id = bytes.fromhex(parts[0]), bytes.fromhex(parts[1])
        except ValueError:
            continue
        if len(trace_id) != 16 or len(span_id) != 8:
            continue
        del tags[key]
        link = links.add()
        link.trace_id, link.span_id, link.trace_state = trace_id, span_id, parts[2]
        put_json_attributes(link.attributes, attribute_map)
        link.dropped_attributes_count = dropped


def decode_piped(value: str, minimum_parts: int) -> tuple[list[str], dict[str, Any], int] | None:
    """Splits "a|b|...|{json}|count": the parts before the JSON, its object and the count;
    None unless all of it parses (the JSON may itself hold "|")."""
    parts = value.split("|")
    if len(parts) < minimum_parts or not parts[-1].isascii() or not parts[-1].isdigit():
        return None
    head = minimum_parts - 2
    try:
        attribute_map = orjson.loads("|".join(parts[head:-1]))
    except orjson.JSONDecodeError:
        return None
    dropped = int(parts[-1])
    if not isinstance(attribute_map, dict) or dropped >= 2**32:
        return None
    try:
        # Written back as JSON text where a value is structured: orjson writes 254 levels at most.
        orjson.dumps(attribute_map)
    except orjson.JSONEncodeError:
        return None
    return parts[:head], attribute_map, dropped


def put_json_attributes(attributes: Any, values: Mapping[str, Any]) -> None:
    # contrib's jsonMapToAttributeMap: strings, booleans, integral numbers as integers, other
    # numbers as doubles; it drops the rest, kept here as JSON text.
    for key, value in values.items():
        if isinstance(value, float) and value.is_integer() and -(2**63) <= value < 2**63:
            value = int(value)
        put(attributes, clean_text(key), value)
