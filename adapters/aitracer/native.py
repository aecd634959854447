"""AITracer's native trace (`POST /api/traces`) as one GenAI span: `requestId` is the trace key,
prompt and response become the GenAI message attributes, `metrics` the usage, cost and finish
reason. The mapping table is in docs/adapters/aitracer.md."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.aitracer.common import (
    SCOPE_NAME,
    SERVICE_NAME,
    InvalidRequestError,
    bad_request,
    check_storable,
    count,
    link_trace_id,
    number,
    require_object,
    root_span_id,
    text,
)
from spanhouse.adapters.common.attributes import new_traces, put, to_json
from spanhouse.adapters.common.messages import describe
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult, StateView, StateWrite

NATIVE_NAMESPACE: Final = "aitracer.native"
# Fields mapped to OTLP fields or convention attributes; all others become aitracer.<field>.
_MAPPED: Final = frozenset({"actionName", "environment", "status", "requestId", "model", "prompt", "response",
                            "metrics"})
_METRICS_MAPPED: Final = frozenset({"promptTokens", "completionTokens", "totalTokens", "latencyMs",
                                    "estimatedCostUsd", "finishReason"})
# A call longer than this is not a latency but a wrong unit.
MAX_LATENCY_MS: Final = 30 * 86400 * 1000.0
OK_STATUSES: Final = frozenset({"completed", "complete", "success", "succeeded", "ok"})
ERROR_STATUSES: Final = frozenset({"failed", "failure", "error", "errored", "timeout", "timed_out", "cancelled",
                                   "canceled", "blocked"})
# A span status message is a summary for lists and filters; the whole error stays in aitracer.error.
MAX_STATUS_MESSAGE_CHARS: Final = 1000


def status_of(vendor_status: str | None, message: str | None = None) -> Status:
    if vendor_status is None:
        return Status()
    lowered = vendor_status.lower()
    if lowered in OK_STATUSES:
        return Status(code=Status.StatusCode.STATUS_CODE_OK)
    if lowered in ERROR_STATUSES:
        return Status(code=Status.StatusCode.STATUS_CODE_ERROR, message=message or vendor_status)
    return Status()


def error_text(error: Any) -> str | None:
    """The sender's `error` as the status message: a string as sent, an object's `message`, any
    other value as JSON; cut to MAX_STATUS_MESSAGE_CHARS."""
    if error is None:
        return None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        error = error["message"]
    message = error if isinstance(error, str) else to_json(error)
    return message[:MAX_STATUS_MESSAGE_CHARS] or None


def messages(role: str, content: Any, finish_reason: str | None = None) -> str:
    """GenAI message JSON (role and parts) of a prompt or response sent as text; structured
    content (a list of messages already) is kept as sent."""
    if isinstance(content, str):
        message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": content}]}
        if finish_reason is not None:
            message["finish_reason"] = finish_reason
        return to_json([message])
    return to_json(content)


def handle_native(request: AdapterRequest, state: StateView) -> AdapterResult:
    try:
        body = require_object(request.body, "body")
        fields = _validate(body)
    except InvalidRequestError as error:
        return bad_request(str(error))
    request_id = fields.request_id or _generated_request_id(request)
    answer = AdapterResponse(200, {"trace": {"traceId": request_id, "status": fields.status}})
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    key = f"{request.tenant}:{request_id}:{digest}"
    if state.get(NATIVE_NAMESPACE, key) is not None:
        return AdapterResult(answer)  # the same trace sent again: answered, stored once
    traces = to_traces(body, fields, request_id, request.received_at_ns)
    return AdapterResult(answer, traces, [StateWrite(NATIVE_NAMESPACE, key, b"1")])


@dataclass(frozen=True, slots=True)
class _Fields:
    """The documented fields, checked."""

    action: str | None
    environment: str | None
    status: str | None
    request_id: str | None
    model: str | None
    metrics: Mapping[str, Any]
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    latency_ms: float | None
    cost: float | None
    finish_reason: str | None


def _validate(body: Mapping[str, Any]) -> _Fields:
    request_id = text(body, "body", "requestId")
    if request_id is not None and not request_id.strip():
        raise InvalidRequestError("body.requestId: must not be empty")
    metrics = body.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise InvalidRequestError(f"body.metrics: expected an object, got {describe(metrics)}")
    metrics = metrics or {}
    path = "body.metrics"
    fields = _Fields(
        action=text(body, "body", "actionName"), environment=text(body, "body", "environment"),
        status=text(body, "body", "status"), request_id=request_id, model=text(body, "body", "model"),
        metrics=metrics, input_tokens=count(metrics, path, "promptTokens"),
        output_tokens=count(metrics, path, "completionTokens"), total_tokens=count(metrics, path, "totalTokens"),
        latency_ms=number(metrics, path, "latencyMs"), cost=number(metrics, path, "estimatedCostUsd"),
        finish_reason=text(metrics, path, "finishReason"))
    if fields.latency_ms is not None and fields.latency_ms > MAX_LATENCY_MS:
        raise InvalidRequestError(f"{path}.latencyMs: must be at most {MAX_LATENCY_MS:.0f} (30 days)")
    check_storable(body, "body")
    return fields


def _generated_request_id(request: AdapterRequest) -> str:
    # Without a requestId the trace still needs a key: derived from the request, so it is the
    # same in every process for the same input at the same time (no randomness here).
    digest = hashlib.sha256(orjson.dumps([request.tenant, request.received_at_ns, request.body],
                                         option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"req_{digest[:24]}"


def to_traces(body: Mapping[str, Any], fields: _Fields, request_id: str, received_at_ns: int) -> Any:
    resource = {"deployment.environment.name": fields.environment} if fields.environment else None
    traces, spans = new_traces(SERVICE_NAME, resource, scope_name=SCOPE_NAME)
    # The body has no times: the trace is reported when the call ended, `latencyMs` before.
    latency_ns = round(fields.latency_ms * 1_000_000) if fields.latency_ms is not None else 0
    end_ns = received_at_ns
    start_ns = max(1, end_ns - latency_ns)
    name = fields.action or (f"chat {fields.model}" if fields.model else "chat")
    span = Span(trace_id=link_trace_id(request_id), span_id=root_span_id(request_id), name=name,
                kind=Span.SpanKind.SPAN_KIND_CLIENT, start_time_unix_nano=start_ns, end_time_unix_nano=end_ns,
                status=status_of(fields.status, error_text(body.get("error"))))
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", "chat")
    put(attributes, "gen_ai.request.model", fields.model)
    if body.get("prompt") is not None:
        put(attributes, "gen_ai.input.messages", messages("user", body["prompt"]))
    if body.get("response") is not None:
        put(attributes, "gen_ai.output.messages", messages("assistant", body["response"], fields.finish_reason))
    put(attributes, "gen_ai.usage.input_tokens", fields.input_tokens)
    put(attributes, "gen_ai.usage.output_tokens", fields.output_tokens)
    put(attributes, "llm.token_count.total", fields.total_tokens)
    put(attributes, "gen_ai.usage.cost", fields.cost)
    if fields.finish_reason is not None:
        put(attributes, "gen_ai.response.finish_reasons", [fields.finish_reason])
    put(attributes, "aitracer.latency_ms", fields.latency_ms)
    put(attributes, "aitracer.request_id", request_id)
    put(attributes, "aitracer.action_name", fields.action)
    put(attributes, "aitracer.environment", fields.environment)
    put(attributes, "aitracer.status", fields.status)
    for key, value in body.items():
        if key not in _MAPPED:
            put(attributes, f"aitracer.{key}", value)
    for key, value in fields.metrics.items():
        if key not in _METRICS_MAPPED:
            put(attributes, f"aitracer.metrics.{key}", value)
    spans.append(span)
    return traces
