"""AgentVista traces and spans as OTLP spans: the trace header becomes an `invoke_agent` root
span, each vendor span a child named and typed by the OpenTelemetry GenAI conventions, and
every field without a convention is kept as `agentvista.<field>`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.agentvista.validate import Money, ValidSpan, ValidTrace
from spanhouse.adapters.common.attributes import put
from spanhouse.adapters.common.ids import derived_span_id, span_id_from, trace_id_from

_CLIENT: Final = Span.SpanKind.SPAN_KIND_CLIENT
_INTERNAL: Final = Span.SpanKind.SPAN_KIND_INTERNAL
_OK: Final = Status.StatusCode.STATUS_CODE_OK
_ERROR: Final = Status.StatusCode.STATUS_CODE_ERROR

# Vendor span `type` -> GenAI operation and span kind. Model calls and retrievals leave the
# process (CLIENT); tools, agents and workflows run in it (INTERNAL). Other types keep
# INTERNAL, no operation name, and their type in `agentvista.type`.
_OPERATIONS: Final[Mapping[str, tuple[str, Span.SpanKind.ValueType]]] = {
    "llm": ("chat", _CLIENT),
    "chat": ("chat", _CLIENT),
    "completion": ("text_completion", _CLIENT),
    "embedding": ("embeddings", _CLIENT),
    "embeddings": ("embeddings", _CLIENT),
    "retrieval": ("retrieval", _CLIENT),
    "retriever": ("retrieval", _CLIENT),
    "tool": ("execute_tool", _INTERNAL),
    "function": ("execute_tool", _INTERNAL),
    "agent": ("invoke_agent", _INTERNAL),
    "workflow": ("invoke_workflow", _INTERNAL),
    "chain": ("invoke_workflow", _INTERNAL),
}
_MODEL_OPERATIONS: Final = frozenset({"chat", "text_completion", "embeddings"})

_OK_STATUSES: Final = frozenset({"completed", "success", "succeeded", "ok"})
_ERROR_STATUSES: Final = frozenset({"failed", "error", "timed_out", "cancelled", "canceled"})

# Fields turned into OTLP fields or convention attributes; all others become agentvista.*.
# `error_message`, `status` and `duration_ms` are kept as attributes too, since the span
# status and times do not hold them exactly (a "timed_out" status, a running trace).
_ROOT_MAPPED: Final = frozenset({"trace_id", "agent", "started_at", "ended_at", "total_cost_usd"})
_SPAN_MAPPED: Final = frozenset({"span_id", "trace_id", "parent_span_id", "started_at", "ended_at", "name",
                                 "model", "input_tokens", "output_tokens", "cost_usd"})

SCOPE_NAME: Final = "spanhouse.agentvista"


def root_span_id(trace_id: str) -> bytes:
    """The root span's id: AgentVista gives the trace header none, so it is derived from the
    trace id, the same in every process (a re-sent child still finds its parent)."""
    return derived_span_id("agentvista", "trace", trace_id)


@dataclass(frozen=True, slots=True)
class TraceIds:
    """The OTLP ids every span of a trace uses, computed once per trace (each is a hash)."""

    trace_id: bytes
    root_span_id: bytes


def trace_ids(trace: ValidTrace) -> TraceIds:
    return TraceIds(trace_id_from(trace.trace_id), root_span_id(trace.trace_id))


def _set_status(status: Status, vendor_status: Any, error_message: Any) -> None:
    status.SetInParent()  # present even when empty, as it has always been sent
    if not isinstance(vendor_status, str):
        return
    if vendor_status in _OK_STATUSES:
        status.code = _OK
    elif vendor_status in _ERROR_STATUSES:
        status.code = _ERROR
        status.message = error_message if isinstance(error_message, str) else vendor_status


def _put_cost(attributes: Any, cost: Money | None, original_key: str) -> None:
    # A double for sums and charts, the text as sent for the exact amount: most decimal
    # fractions (0.0045) have no exact double.
    if cost is not None:
        put(attributes, "gen_ai.usage.cost", cost.value)
        put(attributes, original_key, cost.text)


def _put_rest(attributes: Any, fields: Mapping[str, Any], mapped: Collection[str]) -> None:
    for key, value in fields.items():
        if key not in mapped:
            put(attributes, f"agentvista.{key}", value)


# The builders below fill a span added to its request (`spans.add()`) in place: building a
# Span and appending it would copy it, attributes and all.


def fill_root_span(span: Span, trace: ValidTrace, ids: TraceIds, agent_id: str) -> None:
    """The trace header as the root span of the trace."""
    header = trace.fields
    span.trace_id = ids.trace_id
    span.span_id = ids.root_span_id
    span.name = f"invoke_agent {trace.agent}"
    span.kind = _INTERNAL
    span.start_time_unix_nano = trace.start_ns
    span.end_time_unix_nano = trace.end_ns
    _set_status(span.status, header.get("status"), header.get("error_message"))
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", "invoke_agent")
    put(attributes, "gen_ai.agent.name", trace.agent)
    put(attributes, "gen_ai.agent.id", agent_id)
    _put_cost(attributes, trace.total_cost, "agentvista.total_cost_usd")
    put(attributes, "agentvista.trace_id", trace.trace_id)
    _put_rest(attributes, header, _ROOT_MAPPED)


def _span_name(operation: str | None, vendor_type: str, fields: Mapping[str, Any]) -> str:
    name = fields.get("name")
    if isinstance(name, str) and name:
        return name  # the conventions allow keeping the vendor's name; attributes carry meaning
    model = fields.get("model")
    if operation in _MODEL_OPERATIONS and isinstance(model, str) and model:
        return f"{operation} {model}"
    return operation or vendor_type


def fill_child_span(span: Span, trace: ValidTrace, ids: TraceIds, vendor_span: ValidSpan) -> None:
    """One vendor span, under its parent or, without one, under the trace's root span."""
    fields = vendor_span.fields
    vendor_type: str = fields["type"]
    operation, kind = _OPERATIONS.get(vendor_type.lower(), (None, _INTERNAL))
    span.trace_id = ids.trace_id
    span.span_id = span_id_from(vendor_span.span_id)
    span.parent_span_id = (span_id_from(vendor_span.parent_span_id) if vendor_span.parent_span_id is not None
                           else ids.root_span_id)
    span.name = _span_name(operation, vendor_type, fields)
    span.kind = kind
    span.start_time_unix_nano = vendor_span.start_ns
    span.end_time_unix_nano = vendor_span.end_ns
    _set_status(span.status, fields.get("status"), fields.get("error_message"))
    attributes = span.attributes
    put(attributes, "gen_ai.operation.name", operation)
    name = fields.get("name")
    if operation == "execute_tool":
        put(attributes, "gen_ai.tool.name", name)
    elif operation == "invoke_agent":
        put(attributes, "gen_ai.agent.name", name)
    put(attributes, "gen_ai.request.model", fields.get("model"))
    provider = fields.get("provider")
    if isinstance(provider, str):
        put(attributes, "gen_ai.provider.name", provider)
    put(attributes, "gen_ai.usage.input_tokens", fields.get("input_tokens"))
    put(attributes, "gen_ai.usage.output_tokens", fields.get("output_tokens"))
    _put_cost(attributes, vendor_span.cost, "agentvista.cost_usd")
    put(attributes, "agentvista.trace_id", trace.trace_id)
    put(attributes, "agentvista.span_id", vendor_span.span_id)
    put(attributes, "agentvista.parent_span_id", vendor_span.parent_span_id)
    mapped = _SPAN_MAPPED | {"provider"} if isinstance(provider, str) else _SPAN_MAPPED
    _put_rest(attributes, fields, mapped)
