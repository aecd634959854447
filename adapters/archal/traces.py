"""Archal's `POST /api/traces` (any JSON object) to OTLP: OTLP/JSON as it is, a list of span-like
objects as one span each, anything else as one span. docs/adapters/archal.md has the rules."""

from __future__ import annotations

import math
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.archal.errors import bad_request
from spanhouse.adapters.archal.json_values import digest, dump_json, inspect, widen_to_strings
from spanhouse.adapters.common.attributes import new_traces, put, put_flattened
from spanhouse.adapters.common.ids import derived_span_id, span_id_from, trace_id_from
from spanhouse.adapters.common.times import TimeFormatError, to_ns
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult
from spanhouse.collector.core.component import Traces
from spanhouse.proto.errors import MalformedPayloadError
from spanhouse.proto.otlp_json import decode_traces

SCOPE_NAME: Final = "spanhouse.adapters.archal"
DEFAULT_SERVICE_NAME: Final = "archal"
OTLP_KEYS: Final = ("resourceSpans", "resource_spans")
# Top-level arrays looked at, in this order, for span-like objects.
SPAN_LIST_KEYS: Final = ("spans", "events", "steps")
NAME_KEYS: Final = ("name", "spanName", "span_name", "operationName", "operation_name")
START_KEYS: Final = ("startTime", "start_time", "startedAt", "started_at", "startTimeUnixNano",
                     "start_time_unix_nano", "start", "timestamp")
END_KEYS: Final = ("endTime", "end_time", "endedAt", "ended_at", "endTimeUnixNano", "end_time_unix_nano", "end")
DURATION_MS_KEYS: Final = ("durationMs", "duration_ms")
SPAN_ID_KEYS: Final = ("spanId", "span_id", "id")
PARENT_ID_KEYS: Final = ("parentSpanId", "parent_span_id", "parentId", "parent_id")
# Archal lists and deletes traces by root trace id and groups them in runs: either names a trace.
TRACE_ID_KEYS: Final = ("traceId", "trace_id", "rootTraceId", "root_trace_id", "runId", "run_id")
SESSION_ID_KEYS: Final = ("sessionId", "session_id")
SERVICE_KEYS: Final = ("serviceName", "service_name", "service", "agentName", "agent_name", "agent",
                       "workflowName", "workflow_name", "projectName", "project_name", "source")
MODEL_KEYS: Final = ("model", "modelName", "model_name")
PROVIDER_KEYS: Final = ("provider", "providerName", "provider_name")
TOOL_KEYS: Final = ("toolName", "tool_name", "tool")
AGENT_KEYS: Final = ("agentName", "agent_name", "agent")
TYPE_KEYS: Final = ("type", "spanType", "span_type")
USAGE_KEYS: Final = ("usage", "tokenUsage", "token_usage")
INPUT_TOKEN_KEYS: Final = ("input_tokens", "inputTokens", "prompt_tokens", "promptTokens")
OUTPUT_TOKEN_KEYS: Final = ("output_tokens", "outputTokens", "completion_tokens", "completionTokens")
COST_KEYS: Final = ("costUsd", "cost_usd", "cost")
# A span's own `type` word, when it names a GenAI operation.
OPERATION_BY_TYPE: Final = {
    "llm": "chat", "chat": "chat", "generation": "chat", "completion": "text_completion",
    "embedding": "embeddings", "embeddings": "embeddings", "retrieval": "retrieval", "retriever": "retrieval",
    "tool": "execute_tool", "tool_call": "execute_tool", "function": "execute_tool",
    "agent": "invoke_agent", "workflow": "invoke_workflow",
}
SPAN_KINDS: Final = {"internal": Span.SPAN_KIND_INTERNAL, "server": Span.SPAN_KIND_SERVER,
                     "client": Span.SPAN_KIND_CLIENT, "producer": Span.SPAN_KIND_PRODUCER,
                     "consumer": Span.SPAN_KIND_CONSUMER}
ERROR_WORDS: Final = frozenset({"error", "errored", "fail", "failed", "failure", "status_code_error"})
OK_WORDS: Final = frozenset({"ok", "success", "succeeded", "passed", "completed", "complete", "status_code_ok"})
# put_flattened's default; past it an object's whole JSON is kept in `archal.payload`.
MAX_FLATTENED_ATTRIBUTES: Final = 256
_MAX_UNIX_NANO: Final = 2**64 - 1


def handle_traces(request: AdapterRequest) -> AdapterResult:
    payload = request.body
    if not isinstance(payload, dict):
        shown = "an empty body" if payload is None else f"a JSON {_json_type(payload)}"
        return AdapterResult(bad_request(f"body: must be a JSON object, got {shown}"))
    problem, wide_integers = inspect(payload)
    if problem is not None:
        return AdapterResult(bad_request(f"{problem[0]}: {problem[1]}"))
    # Attributes are built with orjson, which cannot take integers beyond 64 bits: those become
    # decimal strings there, while `archal.payload` and the content hash keep them exact.
    fields = widen_to_strings(payload) if wide_integers else payload
    if any(key in payload for key in OTLP_KEYS):
        try:
            traces = _from_otlp(payload, fields)
        except MalformedPayloadError as error:
            return AdapterResult(bad_request(str(error)))
    else:
        traces = _from_vendor_shape(payload, fields, request)
    return AdapterResult(AdapterResponse(status=200, body={"ok": True}), traces=traces)


def _from_otlp(payload: dict[str, Any], fields: dict[str, Any]) -> Traces:
    # decode_traces reads bytes; re-encoding costs a little on a route that is rarely the hot path.
    traces = decode_traces(dump_json(payload).encode())
    extras = {key: value for key, value in fields.items() if key not in OTLP_KEYS}
    session_id = _first_id(payload, SESSION_ID_KEYS)
    for resource_spans in traces.resource_spans:
        if extras:
            put_flattened(resource_spans.resource.attributes, "archal", extras)
        if session_id is None:
            continue
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if not any(pair.key == "session.id" for pair in span.attributes):
                    _put_session(span, session_id)
    return traces


def _from_vendor_shape(payload: dict[str, Any], fields: dict[str, Any], request: AdapterRequest) -> Traces:
    content = digest(request.tenant, dump_json(payload, sort_keys=True))
    payload_trace = _first_id(payload, TRACE_ID_KEYS)
    # No trace id: one derived from the content, so that a re-sent payload lands on the same ids.
    trace_id = trace_id_from(payload_trace if payload_trace is not None else f"archal-payload:{content}")
    session_id = _first_id(payload, SESSION_ID_KEYS)
    service_name = _first_text(payload, SERVICE_KEYS) or DEFAULT_SERVICE_NAME
    traces, spans = new_traces(service_name, scope_name=SCOPE_NAME)
    span_lists = [key for key in SPAN_LIST_KEYS if _is_span_list(payload.get(key))]
    if not span_lists:
        span = spans.add()
        _fill_span(span, fields, trace_id, derived_span_id("archal.payload", trace_id.hex(), content), b"",
                   "archal.trace", session_id, request.received_at_ns)
        _put_object(span.attributes, fields, payload, keep_whole=True)
        return traces
    rest = {key: value for key, value in fields.items() if key not in span_lists}
    if rest:
        put_flattened(traces.resource_spans[0].resource.attributes, "archal", rest)
    for key in span_lists:
        for index, (item, original) in enumerate(zip(fields[key], payload[key], strict=True)):
            own_trace = _first_id(item, ("traceId", "trace_id"))
            item_trace_id = trace_id_from(own_trace) if own_trace is not None else trace_id
            own_id = _first_id(item, SPAN_ID_KEYS)
            span_id = span_id_from(own_id) if own_id is not None else derived_span_id(
                "archal", item_trace_id.hex(), key, str(index))
            parent = _first_id(item, PARENT_ID_KEYS)
            span = spans.add()
            _fill_span(span, item, item_trace_id, span_id, span_id_from(parent) if parent is not None else b"",
                       f"archal.{key.removesuffix('s')}", session_id, request.received_at_ns)
            _put_object(span.attributes, item, original, keep_whole=False)
    return traces


def _is_span_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_span_like(item) for item in value)


def _is_span_like(item: Any) -> bool:
    """A name and a start time, or an id and a parent id field (null for a root)."""
    if not isinstance(item, dict):
        return False
    if _first_text(item, NAME_KEYS) and any(item.get(key) is not None for key in START_KEYS):
        return True
    return _first_id(item, SPAN_ID_KEYS) is not None and any(key in item for key in PARENT_ID_KEYS)


def _fill_span(span: Any, item: dict[str, Any], trace_id: bytes, span_id: bytes, parent_span_id: bytes,
               default_name: str, session_id: str | None, received_at_ns: int) -> None:
    span.trace_id = trace_id
    span.span_id = span_id
    if parent_span_id and parent_span_id != span_id:
        span.parent_span_id = parent_span_id
    span.name = _first_text(item, NAME_KEYS) or default_name
    kind = item.get("kind")
    span.kind = SPAN_KINDS.get(kind.strip().lower().removeprefix("span_kind_"), Span.SPAN_KIND_INTERNAL) \
        if isinstance(kind, str) else Span.SPAN_KIND_INTERNAL
    start = _first_time(item, START_KEYS)
    end = _first_time(item, END_KEYS)
    if start is None:
        start = end if end is not None else received_at_ns
    if end is None:
        end = start + _duration_ns(item)
    # A vendor end before its start is kept in the archal.* attributes; the span itself is not
    # given a negative duration.
    span.start_time_unix_nano = start
    span.end_time_unix_nano = min(max(end, start), _MAX_UNIX_NANO)
    _set_status(span, item)
    _put_conventions(span.attributes, item)
    own_session = _first_id(item, SESSION_ID_KEYS)
    if own_session is not None:
        _put_session(span, own_session)
    elif session_id is not None:
        _put_session(span, session_id)


def _put_conventions(attributes: Any, item: dict[str, Any]) -> None:
    type_word = _first_text(item, TYPE_KEYS)
    operation = OPERATION_BY_TYPE.get(type_word.lower()) if type_word else None
    tool = _first_text(item, TOOL_KEYS)
    if operation is None and tool:
        operation = "execute_tool"
    put(attributes, "gen_ai.operation.name", operation)
    put(attributes, "gen_ai.request.model", _first_text(item, MODEL_KEYS))
    put(attributes, "gen_ai.provider.name", _first_text(item, PROVIDER_KEYS))
    put(attributes, "gen_ai.agent.name", _first_text(item, AGENT_KEYS))
    put(attributes, "gen_ai.tool.name", tool)
    usage: dict[str, Any] = next((item[key] for key in USAGE_KEYS if isinstance(item.get(key), dict)), {})
    put(attributes, "gen_ai.usage.input_tokens", _first_count(usage, INPUT_TOKEN_KEYS) or _first_count(
        item, INPUT_TOKEN_KEYS))
    put(attributes, "gen_ai.usage.output_tokens", _first_count(usage, OUTPUT_TOKEN_KEYS) or _first_count(
        item, OUTPUT_TOKEN_KEYS))
    cost = next((item[key] for key in COST_KEYS if _is_number(item.get(key))), None)
    put(attributes, "gen_ai.usage.cost", cost)


def _set_status(span: Any, item: dict[str, Any]) -> None:
    error = item.get("error")
    status = item.get("status")
    if error not in (None, False, "", {}, []):
        span.status.code = Status.STATUS_CODE_ERROR
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            span.status.message = error["message"]
        else:
            span.status.message = error if isinstance(error, str) else dump_json(error)
    elif isinstance(status, str):
        word = status.strip().lower()
        if word in ERROR_WORDS:
            span.status.code = Status.STATUS_CODE_ERROR
        elif word in OK_WORDS:
            span.status.code = Status.STATUS_CODE_OK
    elif isinstance(status, dict):
        code = status.get("code")
        message = status.get("message")
        if code in (2, "ERROR", "STATUS_CODE_ERROR"):
            span.status.code = Status.STATUS_CODE_ERROR
            if isinstance(message, str):
                span.status.message = message
        elif code in (1, "OK", "STATUS_CODE_OK"):
            span.status.code = Status.STATUS_CODE_OK


def _put_object(attributes: Any, item: dict[str, Any], original: dict[str, Any], keep_whole: bool) -> None:
    """Every field of `item` as `archal.<path>`; its whole JSON as `archal.payload` when asked,
    when not every field fits as an attribute, or when a vendor field named `payload` (not an
    object) would take that name."""
    fields = {key: value for key, value in item.items() if key != "payload" or (isinstance(value, dict) and value)}
    added = put_flattened(attributes, "archal", fields, max_items=MAX_FLATTENED_ATTRIBUTES) if fields else 0
    if keep_whole or added >= MAX_FLATTENED_ATTRIBUTES or len(fields) != len(item):
        put(attributes, "archal.payload", dump_json(original))


def _put_session(span: Any, session_id: str) -> None:
    put(span.attributes, "session.id", session_id)
    put(span.attributes, "gen_ai.conversation.id", session_id)


def _first_text(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _first_id(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """An id as text: a non-empty string, or an integer (some SDKs number their spans)."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _first_count(item: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
            return value
    return None


def _first_time(item: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = item.get(key)
        if value is not None:
            nanos = _parse_time(value)
            if nanos is not None:
                return nanos
    return None


def _parse_time(value: Any) -> int | None:
    """Unix nanoseconds from an ISO 8601 string, an epoch number or OTLP/JSON's decimal string of
    nanoseconds; None for anything else or out of OTLP's range (the field stays an attribute)."""
    if isinstance(value, str) and value.strip().isdigit():
        try:
            value = int(value.strip())
        except ValueError:  # more digits than Python converts
            return None
    try:
        nanos = to_ns(value)
    except (TimeFormatError, ValueError, OverflowError):
        return None
    return nanos if 0 < nanos <= _MAX_UNIX_NANO else None


def _duration_ns(item: dict[str, Any]) -> int:
    for key in DURATION_MS_KEYS:
        value = item.get(key)
        if isinstance(value, int | float) and _is_number(value) and 0 <= value < 2**63 / 1e6:
            return int(value * 1_000_000)
    return 0


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
