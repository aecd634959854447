"""AITracer's record routes that become spans of a trace given by id: tool calls
(`POST /api/ingest/tool-calls` -> `execute_tool` spans) and guardrail results
(`POST /api/integrations/openai-guardrails` -> GUARDRAIL spans with an event when tripped).
A record with a trace id joins that trace under its root span; one without gets a trace of
its own. Ids are derived from the record, so a re-sent record lands on the same ids and is
stored once. The mapping tables are in docs/adapters/aitracer.md."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.aitracer.common import (
    SCOPE_NAME,
    SERVICE_NAME,
    InvalidRequestError,
    bad_request,
    boolean,
    check_storable,
    link_trace_id,
    number,
    pick,
    require_object,
    root_span_id,
    text,
    time_ns,
    trace_link,
)
from spanhouse.adapters.common.attributes import new_traces, put, to_json
from spanhouse.adapters.common.ids import derived_span_id, span_id_from, trace_id_from
from spanhouse.adapters.common.messages import describe
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult, StateView, StateWrite

SEEN_NAMESPACE: Final = "aitracer.records"
MAX_RECORDS_PER_REQUEST: Final = 1000
# A duration longer than this is a wrong unit, not a tool call.
MAX_DURATION_MS: Final = 30 * 86400 * 1000.0

TOOL_FIELDS: Final = {"name": ("toolName", "tool_name", "name"), "arguments": ("arguments", "args", "input"),
                      "result": ("result", "output"), "error": ("error",), "duration": ("durationMs", "duration_ms"),
                      "call_id": ("toolCallId", "tool_call_id", "callId", "id"),
                      "parent": ("parentSpanId", "parent_span_id"), "start": ("startedAt", "started_at", "timestamp"),
                      "status": ("status",),
                      "link": ("traceId", "trace_id", "requestId", "request_id")}
GUARDRAIL_FIELDS: Final = {"name": ("guardrailName", "guardrail_name", "name"),
                           "triggered": ("tripwireTriggered", "tripwire_triggered", "triggered"),
                           "info": ("outputInfo", "output_info", "info"), "stage": ("stage", "kind"),
                           "duration": ("durationMs", "duration_ms"), "parent": ("parentSpanId", "parent_span_id"),
                           "start": ("startedAt", "started_at", "timestamp"),
                           "link": ("traceId", "trace_id", "requestId", "request_id")}


@dataclass(frozen=True, slots=True)
class Record:
    fields: Mapping[str, Any]
    link: str | None  # the vendor trace id it belongs to
    digest: str  # of the record as sent, for ids and deduplication
    start_ns: int
    end_ns: int


def _records(body: Any, list_keys: tuple[str, ...], inherited_link: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    """The records of a body sent as one object, an array, or an object holding an array
    (with an optional trace id for all of them): (path, record, trace id of the envelope)."""
    if isinstance(body, list):
        return [(f"body[{index}]", item, None) for index, item in enumerate(body)]
    envelope = require_object(body, "body")
    for key in list_keys:
        if key in envelope:
            items = envelope[key]
            if not isinstance(items, list):
                raise InvalidRequestError(f"body.{key}: expected an array, got {describe(items)}")
            link = trace_link(envelope, "body") if any(name in envelope for name in inherited_link) else None
            return [(f"body.{key}[{index}]", item, link) for index, item in enumerate(items)]
    return [("body", envelope, None)]


def _record(path: str, item: Any, envelope_link: str | None, received_at_ns: int) -> Record:
    fields = require_object(item, path)
    check_storable(fields, path)
    link = trace_link(fields, path) or envelope_link
    duration_ms = number(fields, path, "durationMs", "duration_ms")
    if duration_ms is not None and duration_ms > MAX_DURATION_MS:
        raise InvalidRequestError(f"{path}.durationMs: must be at most {MAX_DURATION_MS:.0f} (30 days)")
    duration_ns = round((duration_ms or 0.0) * 1_000_000)
    start_ns = time_ns(fields, path, "startedAt", "started_at", "timestamp")
    if start_ns is None:
        end_ns = received_at_ns  # reported when it ended
        start_ns = max(1, end_ns - duration_ns)
    else:
        end_ns = start_ns + duration_ns
        if end_ns > 2**63 - 1:
            raise InvalidRequestError(f"{path}.durationMs: ends after 2262")
    digest = hashlib.sha256(orjson.dumps([link, fields], option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Record(fields, link, digest, start_ns, end_ns)


def _ids(record: Record, own_id: str | None, kind: str) -> tuple[bytes, bytes, bytes]:
    """Trace id, span id and parent span id of a record."""
    span_id = span_id_from(f"{kind}:{own_id}") if own_id else derived_span_id("aitracer", kind, record.digest)
    _, parent = pick(record.fields, "parentSpanId", "parent_span_id")
    if record.link is not None:
        parent_id = span_id_from(parent) if isinstance(parent, str) and parent else root_span_id(record.link)
        return link_trace_id(record.link), span_id, parent_id
    return trace_id_from(f"aitracer-{kind}:{own_id or record.digest}"), span_id, b""


def _rest(attributes: Any, fields: Mapping[str, Any], aliases: Mapping[str, tuple[str, ...]], prefix: str) -> None:
    mapped = {name for names in aliases.values() for name in names}
    for key, value in fields.items():
        if key not in mapped:
            put(attributes, f"{prefix}.{key}", value)


def tool_call_span(record: Record) -> Span:
    fields = record.fields
    name = text(fields, "", *TOOL_FIELDS["name"]) or ""
    call_id = text(fields, "", *TOOL_FIELDS["call_id"])
    trace_id, span_id, parent_id = _ids(record, call_id, "tool")
    span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent_id, name=f"execute_tool {name}",
                kind=Span.SpanKind.SPAN_KIND_INTERNAL, start_time_unix_nano=record.start_ns,
                end_time_unix_nano=record.end_ns)
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", "execute_tool")
    put(attributes, "gen_ai.tool.name", name)
    put(attributes, "gen_ai.tool.type", "function")
    put(attributes, "gen_ai.tool.call.id", call_id)
    for attribute, names in (("gen_ai.tool.call.arguments", TOOL_FIELDS["arguments"]),
                             ("gen_ai.tool.call.result", TOOL_FIELDS["result"])):
        _, value = pick(fields, *names)
        if value is not None:
            put(attributes, attribute, value if isinstance(value, str) else to_json(value))
    error = fields.get("error")
    status = text(fields, "", "status")
    if error is not None:
        message = error if isinstance(error, str) else to_json(error)
        put(attributes, "aitracer.tool.error", message)
        put(attributes, "error.type", "tool_error")
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_ERROR, message=message[:1000]))
    elif status is not None and status.lower() in ("error", "failed", "failure"):
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_ERROR, message=status))
    put(attributes, "aitracer.tool.status", status)
    put(attributes, "aitracer.tool.duration_ms", number(fields, "", *TOOL_FIELDS["duration"]))
    put(attributes, "aitracer.trace_id", record.link)
    _rest(attributes, fields, TOOL_FIELDS, "aitracer.tool")
    return span


def guardrail_span(record: Record) -> Span:
    fields = record.fields
    name = text(fields, "", *GUARDRAIL_FIELDS["name"]) or ""
    triggered = bool(boolean(fields, "", *GUARDRAIL_FIELDS["triggered"]))
    trace_id, span_id, parent_id = _ids(record, None, "guardrail")
    span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent_id, name=f"guardrail {name}",
                kind=Span.SpanKind.SPAN_KIND_INTERNAL, start_time_unix_nano=record.start_ns,
                end_time_unix_nano=record.end_ns)
    attributes = span.attributes
    put(attributes, "openinference.span.kind", "GUARDRAIL")
    put(attributes, "aitracer.guardrail.name", name)
    put(attributes, "aitracer.guardrail.triggered", triggered)
    _, info = pick(fields, *GUARDRAIL_FIELDS["info"])
    put(attributes, "aitracer.guardrail.output_info", None if info is None else to_json(info))
    put(attributes, "aitracer.guardrail.stage", text(fields, "", *GUARDRAIL_FIELDS["stage"]))
    put(attributes, "aitracer.trace_id", record.link)
    _rest(attributes, fields, GUARDRAIL_FIELDS, "aitracer.guardrail")
    if triggered:
        event = span.events.add(time_unix_nano=record.end_ns, name="guardrail.tripwire_triggered")
        put(event.attributes, "aitracer.guardrail.name", name)
    return span


def _validate_tool_call(fields: Mapping[str, Any], path: str) -> None:
    text(fields, path, *TOOL_FIELDS["name"], required=True)
    text(fields, path, *TOOL_FIELDS["call_id"])
    text(fields, path, "status")
    _, parent = pick(fields, *TOOL_FIELDS["parent"])
    if parent is not None:
        text(fields, path, *TOOL_FIELDS["parent"], required=True)


def _validate_guardrail(fields: Mapping[str, Any], path: str) -> None:
    text(fields, path, *GUARDRAIL_FIELDS["name"], required=True)
    if boolean(fields, path, *GUARDRAIL_FIELDS["triggered"]) is None:
        raise InvalidRequestError(f"{path}.tripwireTriggered: field required (true when the guardrail tripped)")
    text(fields, path, *GUARDRAIL_FIELDS["stage"])
    _, parent = pick(fields, *GUARDRAIL_FIELDS["parent"])
    if parent is not None:
        text(fields, path, *GUARDRAIL_FIELDS["parent"], required=True)


def _handle(request: AdapterRequest, state: StateView, list_keys: tuple[str, ...], kind: str,
            check: Callable[[Mapping[str, Any], str], None], to_span: Callable[[Record], Span]) -> AdapterResult:
    try:
        items = _records(request.body, list_keys, ("traceId", "trace_id", "requestId", "request_id"))
        if not items:
            raise InvalidRequestError(f"body.{list_keys[0]}: must hold at least one record")
        if len(items) > MAX_RECORDS_PER_REQUEST:
            raise InvalidRequestError(f"at most {MAX_RECORDS_PER_REQUEST} records per request, got {len(items)}")
        records = []
        for path, item, link in items:
            record = _record(path, item, link, request.received_at_ns)
            check(record.fields, path)
            records.append(record)
    except InvalidRequestError as error:
        return bad_request(str(error))
    keys = [f"{request.tenant}:{kind}:{record.digest}" for record in records]
    seen = set(state.get_many(SEEN_NAMESPACE, keys))
    traces, spans = new_traces(SERVICE_NAME, scope_name=SCOPE_NAME)
    writes = []
    for key, record in zip(keys, records, strict=True):
        if key not in seen:
            seen.add(key)
            spans.append(to_span(record))
            writes.append(StateWrite(SEEN_NAMESPACE, key, b"1"))
    linked = [record.link for record in records]
    answer = AdapterResponse(200, {"accepted": len(records), "traceIds": linked})
    return AdapterResult(answer, traces if len(spans) else None, writes)


def handle_tool_calls(request: AdapterRequest, state: StateView) -> AdapterResult:
    return _handle(request, state, ("toolCalls", "tool_calls", "calls"), "tool", _validate_tool_call, tool_call_span)


def handle_guardrails(request: AdapterRequest, state: StateView) -> AdapterResult:
    return _handle(request, state, ("results", "guardrails"), "guardrail", _validate_guardrail, guardrail_span)
