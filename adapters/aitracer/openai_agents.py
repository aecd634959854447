"""`POST /api/integrations/openai-agents`: the body the OpenAI Agents SDK's trace exporter posts
(`{"data": [trace and trace.span objects]}`), validated, deduplicated and mapped to OTLP.

The SDK sends a `trace` object when the trace starts (no times) and each span when it ends,
children before parents, in batches; a 5xx is retried, so a batch may arrive twice, and a
trace's header and its spans may come in different requests. So: every object is remembered by
id in the receiver's state and stored once; the header becomes a root span (its times are those
of its spans in the same request, else the time it was received) and is remembered, so that
spans arriving later still get the conversation id and workflow name; spans without a parent
hang under the root span, whose id is derived from the trace id."""

from __future__ import annotations

from typing import Any, Final

import orjson

from spanhouse.adapters.aitracer.common import (
    InvalidRequestError,
    bad_request,
    check_storable,
    require_object,
    text,
    time_ns,
)
from spanhouse.adapters.aitracer.openai_agents_spans import AgentSpan, TraceHeader, agent_span, root_span
from spanhouse.adapters.common.attributes import new_traces
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult, StateView, StateWrite

SEEN_NAMESPACE: Final = "openai_agents.seen"
HEADERS_NAMESPACE: Final = "openai_agents.traces"
SERVICE_NAME: Final = "openai-agents"
SCOPE_NAME: Final = "spanhouse.openai_agents"
# The SDK's exporter sends at most a few hundred objects per request (its batch size is 128).
MAX_ITEMS_PER_REQUEST: Final = 10_000


def _object(fields: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{path}.{key}: expected an object, got {describe(value)}")
    return value


def _id(fields: dict[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = text(fields, path, key, required=required)
    if value is not None and len(value) > 256:
        raise InvalidRequestError(f'{path}.{key}: "{quote(value)}" is longer than 256 characters')
    return value


def validate_trace(fields: dict[str, Any], path: str) -> TraceHeader:
    trace_id = _id(fields, "id", path)
    assert trace_id is not None
    header = TraceHeader(trace_id=trace_id.strip(), workflow_name=text(fields, path, "workflow_name"),
                         group_id=text(fields, path, "group_id"), metadata=_object(fields, "metadata", path))
    check_storable(fields, path)
    return header


def validate_span(fields: dict[str, Any], path: str, received_at_ns: int) -> AgentSpan:
    span_id = _id(fields, "id", path)
    trace_id = _id(fields, "trace_id", path)
    assert span_id is not None and trace_id is not None
    parent_id = _id(fields, "parent_id", path, required=False)
    if parent_id is not None and parent_id.strip() == span_id.strip():
        raise InvalidRequestError(f"{path}.parent_id: a span cannot be its own parent")
    data = _object(fields, "span_data", path)
    if data is None:
        raise InvalidRequestError(f"{path}.span_data: field required")
    text(data, f"{path}.span_data", "type", required=True)
    error = _object(fields, "error", path)
    if error is not None:
        text(error, f"{path}.error", "message")
    start_ns = time_ns(fields, path, "started_at")
    end_ns = time_ns(fields, path, "ended_at")
    start_ns = start_ns or end_ns or received_at_ns
    end_ns = end_ns or start_ns
    if end_ns < start_ns:
        raise InvalidRequestError(f"{path}.ended_at: is before started_at")
    check_storable(fields, path)
    return AgentSpan(span_id=span_id.strip(), trace_id=trace_id.strip(),
                     parent_id=parent_id.strip() if parent_id else None, start_ns=start_ns, end_ns=end_ns,
                     data=data, error=error, metadata=_object(fields, "metadata", path))


def _validate(body: Any, received_at_ns: int) -> tuple[list[TraceHeader], list[AgentSpan], int]:
    fields = require_object(body, "body")
    items = fields.get("data")
    if items is None:
        raise InvalidRequestError("body.data: field required")
    if not isinstance(items, list):
        raise InvalidRequestError(f"body.data: expected an array, got {describe(items)}")
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise InvalidRequestError(f"body.data: at most {MAX_ITEMS_PER_REQUEST} objects per request, got {len(items)}")
    headers: list[TraceHeader] = []
    spans: list[AgentSpan] = []
    ignored = 0
    for index, item in enumerate(items):
        path = f"data[{index}]"
        item = require_object(item, path)
        kind = item.get("object")
        if kind == "trace":
            headers.append(validate_trace(item, path))
        elif kind == "trace.span":
            spans.append(validate_span(item, path, received_at_ns))
        elif isinstance(kind, str):
            ignored += 1  # an object kind a newer SDK may add: answered as ignored, not refused
        else:
            raise InvalidRequestError(f'{path}.object: expected "trace" or "trace.span", got {describe(kind)}')
    return headers, spans, ignored


def _known_headers(tenant: str, headers: list[TraceHeader], spans: list[AgentSpan],
                   state: StateView) -> dict[str, TraceHeader]:
    known = {header.trace_id: header for header in headers}
    missing = list({span.trace_id for span in spans if span.trace_id not in known})
    if missing:
        stored = state.get_many(HEADERS_NAMESPACE, [f"{tenant}:{trace_id}" for trace_id in missing])
        for trace_id in missing:
            value = stored.get(f"{tenant}:{trace_id}")
            if value is None:
                continue
            try:
                saved = orjson.loads(value)
                known[trace_id] = TraceHeader(trace_id, saved.get("workflow_name"), saved.get("group_id"), None)
            except (orjson.JSONDecodeError, AttributeError):
                continue  # not written by this adapter: the span is stored without the header
    return known


def handle_agents(request: AdapterRequest, state: StateView) -> AdapterResult:
    try:
        headers, spans, ignored = _validate(request.body, request.received_at_ns)
    except InvalidRequestError as error:
        return bad_request(str(error))
    tenant = request.tenant
    trace_keys = [f"{tenant}:trace:{header.trace_id}" for header in headers]
    span_keys = [f"{tenant}:{span.trace_id}:{span.span_id}" for span in spans]
    seen = set(state.get_many(SEEN_NAMESPACE, trace_keys + span_keys)) if trace_keys or span_keys else set()
    known = _known_headers(tenant, headers, spans, state)

    traces, output = new_traces(SERVICE_NAME, scope_name=SCOPE_NAME)
    writes: list[StateWrite] = []
    for key, span in zip(span_keys, spans, strict=True):
        if key not in seen:
            seen.add(key)  # also drops a span repeated within this request
            output.append(agent_span(span, known.get(span.trace_id)))
            writes.append(StateWrite(SEEN_NAMESPACE, key, b"1"))
    for key, header in zip(trace_keys, headers, strict=True):
        if key in seen:
            continue
        seen.add(key)
        own = [span for span in spans if span.trace_id == header.trace_id]
        start_ns = min((span.start_ns for span in own), default=request.received_at_ns)
        end_ns = max((span.end_ns for span in own), default=start_ns)
        output.append(root_span(header, start_ns, end_ns))
        writes.append(StateWrite(SEEN_NAMESPACE, key, b"1"))
        writes.append(StateWrite(HEADERS_NAMESPACE, f"{tenant}:{header.trace_id}", orjson.dumps(header.to_state())))
    answer = AdapterResponse(200, {"object": "list", "accepted": len(headers) + len(spans), "stored": len(output),
                                   "ignored": ignored})
    return AdapterResult(answer, traces if len(output) else None, writes)
