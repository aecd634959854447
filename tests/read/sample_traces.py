"""Known traces for the read tests, from three sources: AgentVista's documented example (through
the adapter), an OTLP GenAI agent trace with a tool, a failed model call and events, and a plain
OTLP service trace without an agent name."""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spanhouse.adapters.agentvista.plugin import AgentVistaAdapter, AgentVistaConfig
from spanhouse.collector.auth.tenant import stamp_tenant
from spanhouse.collector.core.adapter_api import AdapterRequest
from spanhouse.collector.core.component import Traces
from spanhouse.collector.read.params import iso_time as _iso
from tests.exporters.clickhouse.otlp_samples import attributes

NANOS_PER_MS: Final = 1_000_000
AGENTVISTA_TRACE_ID: Final = "550e8400-e29b-41d4-a716-446655440000"
AGENTVISTA_TRACE_HEX: Final = "550e8400e29b41d4a716446655440000"
OTLP_TRACE_HEX: Final = "0af7651916cd43dd8448eb211c80319c"
PLAIN_TRACE_HEX: Final = "1bf7651916cd43dd8448eb211c80319d"


class _NoState:
    def get(self, namespace: str, key: str) -> bytes | None:
        return None

    def get_many(self, namespace: str, keys: Any) -> dict[str, bytes]:
        return {}


def agentvista_body(base_ns: int) -> Any:
    """The vendor page's example (plus metadata), starting at `base_ns`: the trace lasts 2 s,
    its LLM span starts 100 ms in and lasts 1.7 s."""
    started_at, span_started_at = _iso(base_ns), _iso(base_ns + 100 * NANOS_PER_MS)
    ended_at = _iso(base_ns + 2000 * NANOS_PER_MS)
    return {"traces": [{
        "trace": {"trace_id": AGENTVISTA_TRACE_ID, "agent": "lead-qualifier", "status": "completed",
                  "started_at": started_at, "ended_at": ended_at, "duration_ms": 2000, "success": True,
                  "outcome": "qualified", "total_tokens": 1500, "total_cost_usd": "0.004500",
                  "metadata": {"campaign": "spring"}},
        "spans": [{"span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "trace_id": AGENTVISTA_TRACE_ID,
                   "type": "llm", "name": "gpt-4o classify", "status": "completed",
                   "started_at": span_started_at,
                   "ended_at": ended_at, "duration_ms": 1700, "model": "gpt-4o", "input_tokens": 800,
                   "output_tokens": 120, "total_tokens": 920, "cost_usd": "0.003200"}],
    }]}


def agentvista_traces(base_ns: int, tenant: str = "default") -> Traces:
    body = agentvista_body(base_ns)
    request = AdapterRequest("POST", "/api/v1/traces/batch", {}, {}, {}, body, tenant, base_ns)
    result = AgentVistaAdapter(AgentVistaConfig()).handle_batch(request, _NoState())
    assert result.traces is not None
    stamp_tenant(result.traces, tenant)
    return result.traces


def _span(trace_hex: str, span_hex: str, parent_hex: str, name: str, start_ns: int, duration_ms: float,
          kind: Span.SpanKind.ValueType, attrs: dict[str, Any], error: str | None = None) -> Span:
    span = Span(trace_id=bytes.fromhex(trace_hex), span_id=bytes.fromhex(span_hex),
                parent_span_id=bytes.fromhex(parent_hex) if parent_hex else b"", name=name, kind=kind,
                start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + round(duration_ms * NANOS_PER_MS))
    span.attributes.extend(attributes(attrs))
    if error is not None:
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_ERROR, message=error))
    else:
        span.status.CopyFrom(Status(code=Status.StatusCode.STATUS_CODE_OK))
    return span


def otlp_traces(base_ns: int, tenant: str = "default") -> Traces:
    """`support-bot`: invoke_agent triage > chat gpt-4o-mini (tokens, cost, messages),
    execute_tool lookup_order (event), chat gpt-4o (failed); and `billing`: one failed request."""
    traces = Traces()
    resource = traces.resource_spans.add()
    resource.resource.attributes.extend(attributes({"service.name": "support-bot", "deployment.environment": "test"}))
    scope = resource.scope_spans.add()
    scope.scope.name = "test.genai"
    client, internal = Span.SpanKind.SPAN_KIND_CLIENT, Span.SpanKind.SPAN_KIND_INTERNAL
    root = "a1a2a3a4a5a6a7a8"
    messages = '[{"role":"user","parts":[{"type":"text","content":"Where is my order 42?"}]}]'
    answer = '[{"role":"assistant","parts":[{"type":"text","content":"It ships today."}]}]'
    tool = _span(OTLP_TRACE_HEX, "c1c2c3c4c5c6c7c8", root, "execute_tool lookup_order", base_ns + 300 * NANOS_PER_MS,
                 50, internal, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"})
    event = tool.events.add()
    event.name = "order.found"
    event.time_unix_nano = base_ns + 320 * NANOS_PER_MS
    event.attributes.extend(attributes({"order.id": "42"}))
    scope.spans.extend([
        _span(OTLP_TRACE_HEX, root, "", "invoke_agent triage", base_ns, 1200, internal,
              {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage", "session.id": "s-1"}),
        _span(OTLP_TRACE_HEX, "b1b2b3b4b5b6b7b8", root, "chat gpt-4o-mini", base_ns + 10 * NANOS_PER_MS, 250, client,
              {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
               "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20, "gen_ai.usage.cost": 0.25,
               "gen_ai.input.messages": messages, "gen_ai.output.messages": answer}),
        tool,
        _span(OTLP_TRACE_HEX, "d1d2d3d4d5d6d7d8", root, "chat gpt-4o", base_ns + 400 * NANOS_PER_MS, 700, client,
              {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
               "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 0, "gen_ai.usage.cost": 0.5},
              error="rate limited"),
    ])
    billing = traces.resource_spans.add()
    billing.resource.attributes.extend(attributes({"service.name": "billing"}))
    billing_scope = billing.scope_spans.add()
    billing_scope.spans.append(_span(PLAIN_TRACE_HEX, "e1e2e3e4e5e6e7e8", "", "POST /charge",
                                     base_ns + 5000 * NANOS_PER_MS, 80, Span.SpanKind.SPAN_KIND_SERVER,
                                     {"http.request.method": "POST", "http.response.status_code": 500},
                                     error="card declined"))
    stamp_tenant(traces, tenant)
    return traces
