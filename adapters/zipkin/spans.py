"""Zipkin spans as OTLP, grouped and mapped as the contrib zipkin receiver does: resources per
service, scopes per library, and the OpenTelemetry exporters' status, link and event tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.common.attributes import clean_text, put
from spanhouse.adapters.zipkin.validate import (
    NO_SERVICE_NAME,
    SCOPE_NAME_TAGS,
    SCOPE_VERSION_TAGS,
    ZipkinSpan,
    first_tag,
)
from spanhouse.collector.core.component import Traces

KINDS: Final = {"CLIENT": Span.SPAN_KIND_CLIENT, "SERVER": Span.SPAN_KIND_SERVER,
                "PRODUCER": Span.SPAN_KIND_PRODUCER, "CONSUMER": Span.SPAN_KIND_CONSUMER}
# Contrib knows the STATUS_CODE_* spellings; the OpenTelemetry Zipkin exporters write OK / ERROR.
STATUS_CODES: Final = {"STATUS_CODE_UNSET": Status.STATUS_CODE_UNSET, "STATUS_CODE_OK": Status.STATUS_CODE_OK,
                       "STATUS_CODE_ERROR": Status.STATUS_CODE_ERROR, "UNSET": Status.STATUS_CODE_UNSET,
                       "OK": Status.STATUS_CODE_OK, "ERROR": Status.STATUS_CODE_ERROR}
START_TIME_ABSENT: Final = "otel.zipkin.absentField.startTime"
SERVICE_NAME_SOURCE: Final = "otlp.service.name.source"
MAX_LINKS: Final = 128
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
