"""Golden and unit tests of the OpenAI Agents SDK route (adapters/aitracer/openai_agents*.py): every
span_data type, the trace header as root span and session attributes, repeats stored once,
and a header that arrived in an earlier request. Regenerate with SPANHOUSE_REGENERATE_GOLDEN=1."""

from __future__ import annotations

from typing import Any

import orjson

from spanhouse.adapters.aitracer.common import root_span_id
from spanhouse.adapters.aitracer.openai_agents import HEADERS_NAMESPACE, handle_agents
from spanhouse.adapters.common.ids import span_id_from
from spanhouse.collector.core.adapter_api import AdapterRequest
from tests.adapters.aitracer.test_plugin import attributes, spans_of
from tests.adapters.golden import MemoryState, check_golden, load_case

VENDOR = "openai_agents"
TRACE = "trace_0af7651916cd43dd8448eb211c80319c"


def by_type(result: Any) -> dict[str, Any]:
    return {attributes(span).get("openai_agents.span_type", "root"): span for span in spans_of(result)}


def test_every_span_type() -> None:
    result = check_golden(VENDOR, "every_span_type", handle_agents)
    assert result.response.body == {"object": "list", "accepted": 13, "stored": 13, "ignored": 1}
    spans = by_type(result)
    assert set(spans) == {"root", "generation", "function", "response", "handoff", "guardrail", "custom", "mcp_tools",
                          "transcription", "speech", "speech_group", "agent", "realtime_session"}
    root = spans["root"]
    assert root.name == "invoke_workflow Customer support"
    assert root.span_id == root_span_id(TRACE)
    assert root.trace_id.hex() == TRACE[6:]
    # The header has no times: the root spans its spans of the same request.
    assert root.start_time_unix_nano == min(span.start_time_unix_nano for span in spans_of(result))
    assert root.end_time_unix_nano == max(span.end_time_unix_nano for span in spans_of(result))
    assert attributes(root)["openai_agents.metadata.customer_tier"] == "gold"
    for span in spans_of(result):
        values = attributes(span)
        assert values["gen_ai.conversation.id"] == "thread_42"
        assert values["session.id"] == "thread_42"
        assert values["openai_agents.workflow_name"] == "Customer support"
    agent = spans["agent"]
    assert agent.name == "invoke_agent Triage" and agent.parent_span_id == root.span_id
    assert agent.status.message == "Max turns (10) exceeded"
    assert attributes(agent)["openai_agents.agent.handoffs"] == ["Billing", "Shipping"]
    assert attributes(agent)["openai_agents.metadata.agent_harness_id"] == "harness-1"
    generation = spans["generation"]
    assert generation.name == "chat gpt-4o"
    assert generation.parent_span_id == span_id_from("span_a1b2c3d4e5f60718293a4b5c")
    values = attributes(generation)
    assert (values["gen_ai.usage.input_tokens"], values["gen_ai.usage.output_tokens"]) == (120, 18)
    assert values["gen_ai.request.temperature"] == 0.2 and values["gen_ai.request.max_tokens"] == 256
    assert orjson.loads(values["gen_ai.input.messages"]) == [{"role": "user", "content": "Where is my order?"}]
    assert attributes(spans["function"])["gen_ai.tool.call.arguments"] == '{"order_id": "A-17"}'
    assert attributes(spans["response"])["gen_ai.response.id"] == "resp_67ccd2bed1ec8190b14f964abc054267"
    assert spans["handoff"].name == "handoff Triage -> Billing"
    assert attributes(spans["guardrail"])["openai_agents.guardrail.triggered"] is False
    assert attributes(spans["custom"])["openai_agents.sdk_span_type"] == "task"
    assert attributes(spans["mcp_tools"])["openai_agents.mcp_tools.result"] == ["lookup_order", "cancel_order"]
    assert attributes(spans["transcription"])["openai_agents.transcription.output"] == "cancel my order"
    assert spans["speech"].name == "speech gpt-4o-mini-tts"


def test_a_repeated_batch_is_stored_once() -> None:
    request, _ = load_case(VENDOR, "every_span_type")
    state = MemoryState()
    first = handle_agents(request, state)
    state.apply(first)
    again = handle_agents(request, state)
    assert again.response.status == 200
    assert again.response.body["stored"] == 0
    assert again.traces is None


def test_spans_after_their_header_get_its_session() -> None:
    state = MemoryState({(HEADERS_NAMESPACE, "default:trace_11111111111111111111111111111111"):
                         orjson.dumps({"workflow_name": "Warm", "group_id": "conv_9"})})
    result = check_golden(VENDOR, "spans_before_header", handle_agents, state)
    (span,) = spans_of(result)
    assert attributes(span)["session.id"] == "conv_9"
    without = handle_agents(load_case(VENDOR, "spans_before_header")[0], MemoryState())
    assert "session.id" not in attributes(spans_of(without)[0])


def test_a_header_without_spans_is_a_root_at_the_time_received() -> None:
    request, _ = load_case(VENDOR, "every_span_type")
    header = request.body["data"][0]
    only = AdapterRequest(**{**{name: getattr(request, name) for name in AdapterRequest.__slots__},
                             "body": {"data": [header]}})
    result = handle_agents(only, MemoryState())
    (root,) = spans_of(result)
    assert root.start_time_unix_nano == root.end_time_unix_nano == request.received_at_ns
    assert [write.namespace for write in result.state_writes] == ["openai_agents.seen", HEADERS_NAMESPACE]
