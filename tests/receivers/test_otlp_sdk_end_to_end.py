"""The OpenTelemetry Python SDK's own OTLP exporters, gRPC and HTTP, against a running
collector writing to the embedded ClickHouse; assertions read the stored rows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.conftest import BASIC_CONFIG, StartCollector

COLUMNS = """SpanName, SpanKind, ServiceName, TraceId, SpanId, ParentSpanId, StatusCode, StatusMessage,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration,
    toUnixTimestamp64Nano(Timestamp), Events.Name, Events.Attributes,
    arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Links.TraceId, Links.SpanId,
    Links.TraceState, Links.Attributes, TraceState"""


def emit_agent_trace(exporter: SpanExporter, service_name: str) -> dict[str, object]:
    """Produces one small agent trace through the SDK and returns what it should store."""
    resource = Resource.create({"service.name": service_name, "deployment.environment": "test"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent.tracer", "1.2.3")
    start = 1_700_000_000_123_456_789
    with tracer.start_as_current_span("invoke_agent planner", kind=SpanKind.SERVER, start_time=start,
                                      end_on_exit=False) as root:
        root.set_attribute("gen_ai.agent.name", "planner")
        linked = root.get_span_context()
        child = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=start + 1_000,
                                  links=[Link(linked, {"link.kind": "follows"})],
                                  attributes={
                                      "gen_ai.request.model": "gpt-4o",
                                      "gen_ai.usage.input_tokens": 1200,
                                      "gen_ai.request.temperature": 0.25,
                                      "gen_ai.response.finish_reasons": ["stop", "length"],
                                      "cache.hit": False,
                                      "retry.counts": [1, 2],
                                      "weights": [0.5, 1.5],
                                      "flags": [True, False],
                                  })
        child.add_event("gen_ai.choice", {"index": 0, "finish": "stop"}, timestamp=start + 2_000)
        child.set_status(Status(StatusCode.ERROR, "model overloaded"))
        child.end(end_time=start + 501_000)
        root.set_status(Status(StatusCode.OK))
        root.end(end_time=start + 1_000_000)
    provider.shutdown()
    context = child.get_span_context()
    return {"trace_id": f"{context.trace_id:032x}", "root_id": f"{linked.span_id:016x}",
            "child_id": f"{context.span_id:016x}", "start": start}



def assert_agent_traces(rows: list[tuple[Any, ...]], sent: dict[str, dict[str, object]]) -> None:
    """Every column of the two spans of each `emit_agent_trace` trace, as stored (rows of COLUMNS);
    also used by the exporter's http:// path test."""
    assert len(rows) == 2 * len(sent)
    for service_name, expected in sent.items():
        root, child = [row for row in rows if row[2] == service_name]
        (name, kind, service, trace_id, span_id, parent, status, status_message, resource, scope, scope_version,
         attributes, duration, timestamp, event_names, event_attributes, event_times, link_trace_ids,
         link_span_ids, link_states, link_attributes, trace_state) = child
        assert (name, kind, service) == ("chat gpt-4o", "Client", service_name)
        assert (trace_id, span_id, parent) == (expected["trace_id"], expected["child_id"], expected["root_id"])
        assert (status, status_message) == ("Error", "model overloaded")
        assert resource["service.name"] == service_name
        assert resource["deployment.environment"] == "test"
        assert resource["telemetry.sdk.language"] == "python"
        assert (scope, scope_version) == ("agent.tracer", "1.2.3")
        assert attributes == {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": "1200",
            "gen_ai.request.temperature": "0.25",
            "gen_ai.response.finish_reasons": '["stop","length"]',
            "cache.hit": "false",
            "retry.counts": "[1,2]",
            "weights": "[0.5,1.5]",
            "flags": "[true,false]",
        }
        assert timestamp == expected["start"] + 1_000
        assert duration == 500_000
        assert event_names == ["gen_ai.choice"]
        assert event_attributes == [{"index": "0", "finish": "stop"}]
        assert event_times == [expected["start"] + 2_000]
        assert link_trace_ids == [expected["trace_id"]]
        assert link_span_ids == [expected["root_id"]]
        assert link_states == [""]
        assert link_attributes == [{"link.kind": "follows"}]
        assert trace_state == ""
        assert root[:8] == ("invoke_agent planner", "Server", service_name, expected["trace_id"],
                            expected["root_id"], "", "Ok", "")
        assert root[12] == 1_000_000 and root[13] == expected["start"]
        assert json.loads(json.dumps(root[11])) == {"gen_ai.agent.name": "planner"}

async def test_sdk_grpc_and_http_exporters_store_every_field(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    grpc_exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{collector.ports['grpc']}", insecure=True)
    http_exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{collector.ports['http']}/v1/traces")
    # The SDK exporters block, and the collector runs on this event loop: send from threads.
    sent = {
        "svc-grpc": await asyncio.to_thread(emit_agent_trace, grpc_exporter, "svc-grpc"),
        "svc-http": await asyncio.to_thread(emit_agent_trace, http_exporter, "svc-http"),
    }
    rows = await collector.aquery(f"SELECT {COLUMNS} FROM otel.otel_traces ORDER BY ServiceName, Timestamp")
    assert_agent_traces(rows, sent)
    # The trace-id lookup table is filled by its materialized view.
    # (AggregatingMergeTree: rows of one trace merge in the background, so aggregate on read.)
    lookups = await collector.aquery(
        "SELECT TraceId, min(Start), max(End) FROM otel.otel_traces_trace_id_ts GROUP BY TraceId ORDER BY TraceId")
    assert sorted(row[0] for row in lookups) == sorted(str(sent[name]["trace_id"]) for name in sent)
