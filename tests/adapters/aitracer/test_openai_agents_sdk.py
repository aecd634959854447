"""The real OpenAI Agents SDK (`openai-agents`) exporting its traces to the aitracer receiver,
unchanged but for its endpoint setting: a trace() with custom and function spans (no model
call), flushed by the SDK's own BatchTraceProcessor and BackendSpanExporter, read back."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.adapters.aitracer.test_end_to_end import CONFIG
from tests.conftest import StartCollector

agents = pytest.importorskip("agents")


async def test_the_sdk_exporter_posts_to_the_collector(start_collector: StartCollector) -> None:
    from agents.tracing import custom_span, function_span, set_trace_processors, trace
    from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor

    running = await start_collector(CONFIG)
    exporter = BackendSpanExporter(
        api_key="akt_sdk_workspace",
        endpoint=f"http://127.0.0.1:{running.ports['aitracer']}/api/integrations/openai-agents")
    processor = BatchTraceProcessor(exporter, schedule_delay=60.0)
    set_trace_processors([processor])
    try:
        with trace("Refund workflow", group_id="conv_1234", metadata={"customer": "c_42"}) as current, \
                custom_span("plan", data={"steps": 2}), \
                function_span("lookup_order", input='{"order": "A-17"}') as tool:
            tool.span_data.output = {"status": "shipped"}
        trace_id = current.trace_id
        # The SDK exports from its own thread with a blocking client: flush it off the loop.
        await asyncio.to_thread(processor.force_flush)
    finally:
        await asyncio.to_thread(processor.shutdown)
        set_trace_processors([])
        await asyncio.to_thread(exporter.close)
    rows = await running.aquery(
        "SELECT SpanName, SpanKind, ParentSpanId = '' , SpanAttributes FROM otel.otel_traces "
        f"WHERE TraceId = '{trace_id.removeprefix('trace_')}' ORDER BY SpanName")
    names = [row[0] for row in rows]
    assert names == ["execute_tool lookup_order", "invoke_workflow Refund workflow", "plan"]
    by_name = {row[0]: row for row in rows}
    root = by_name["invoke_workflow Refund workflow"]
    assert root[2] == 1  # no parent
    assert root[3]["openai_agents.metadata.customer"] == "c_42"
    for _, _, _, attributes in rows:
        assert attributes["gen_ai.conversation.id"] == "conv_1234"
        assert attributes["session.id"] == "conv_1234"
        assert attributes["openai_agents.workflow_name"] == "Refund workflow"
    tool_attributes = by_name["execute_tool lookup_order"][3]
    assert tool_attributes["gen_ai.tool.name"] == "lookup_order"
    assert tool_attributes["gen_ai.tool.call.arguments"] == '{"order": "A-17"}'
    assert tool_attributes["gen_ai.tool.call.result"] == "{'status': 'shipped'}"
    assert orjson.loads(by_name["plan"][3]["openai_agents.custom.data"]) == {"steps": 2}
