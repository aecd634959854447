"""The load generator's bodies: deterministic by seed, unique ids in every sent copy, valid
OTLP (protobuf and JSON decode to the same spans), and vendor bodies with the fields their
documentation requires."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from bench.otlp_bodies import otlp_json, otlp_protobuf
from bench.templates import PROTOCOLS, TIME_STEP_NS, build_pool
from bench.traces import CHILDREN_MAX, CHILDREN_MIN, build_body
from bench.vendor_bodies import AGENTVISTA_MAX_SPANS, agentvista
from spanhouse.collector.core.component import Traces
from spanhouse.proto.otlp_json import decode_traces

BASE_NS = 1_781_082_000_000_000_000  # 2026-06-10T09:00:00Z
SPANS = 60


def spans_of(request: Traces) -> list[Any]:
    return [span for resource in request.resource_spans for scope in resource.scope_spans for span in scope.spans]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_pools_are_deterministic_by_seed(protocol: str) -> None:
    spec = PROTOCOLS[protocol]
    spans = min(SPANS, spec.default_spans_per_request)
    first = build_pool(spec, 7, 2, spans, BASE_NS)
    again = build_pool(spec, 7, 2, spans, BASE_NS)
    other_seed = build_pool(spec, 8, 2, spans, BASE_NS)
    assert [bytes(t.render(5)) for t in first] == [bytes(t.render(5)) for t in again]
    assert bytes(first[0].render(5)) != bytes(other_seed[0].render(5))
    assert bytes(first[0].data) != bytes(first[1].data)  # the pool's bodies differ


def test_bodies_are_agent_traces_with_genai_attributes() -> None:
    body = build_body(1, 0, 500, BASE_NS)
    assert body.span_count == 500
    for trace in body.traces[:-1]:  # the last one may be cut short to make 500
        root, *children = trace.spans
        assert root.operation == "invoke_agent" and root.parent_index == 0
        assert CHILDREN_MIN <= len(children) <= CHILDREN_MAX
        assert all(child.parent_index == root.index for child in children)
        assert {child.operation for child in children} == {"chat", "execute_tool"}
    request = Traces.FromString(otlp_protobuf(body, 0))
    assert all(resource.resource.attributes[0].key == "service.name" for resource in request.resource_spans)
    chat = next(span for span in spans_of(request) if span.name.startswith("chat "))
    attributes = {item.key: item.value for item in chat.attributes}
    assert attributes["gen_ai.operation.name"].string_value == "chat"
    assert chat.name == "chat " + attributes["gen_ai.request.model"].string_value
    assert attributes["gen_ai.provider.name"].string_value in ("openai", "anthropic")
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    assert attributes["gen_ai.usage.output_tokens"].int_value > 0
    messages = orjson.loads(attributes["gen_ai.input.messages"].string_value)
    assert 800 <= len(messages[0]["parts"][0]["content"]) <= 1400  # the ~1 KB prompt
    tool = next(span for span in spans_of(request) if span.name.startswith("execute_tool "))
    assert {item.key for item in tool.attributes} >= {"gen_ai.operation.name", "gen_ai.tool.name"}


def test_every_copy_has_unique_ids_and_decodes_the_same_in_protobuf_and_json() -> None:
    proto_pool = build_pool(PROTOCOLS["otlp-http-proto"], 3, 2, SPANS, BASE_NS)
    json_pool = build_pool(PROTOCOLS["otlp-http-json"], 3, 2, SPANS, BASE_NS)
    seen_spans: set[bytes] = set()
    seen_traces: set[bytes] = set()
    for copy in range(6):  # templates reused three times each
        seq = 1_000 + copy * 3
        from_proto = Traces.FromString(bytes(proto_pool[copy % 2].render(seq)))
        assert decode_traces(bytes(json_pool[copy % 2].render(seq))) == from_proto
        spans = spans_of(from_proto)
        assert len(spans) == SPANS
        ids = {span.span_id for span in spans}
        assert len(ids) == SPANS and not ids & seen_spans
        assert all(span.parent_span_id in ids for span in spans if span.parent_span_id)
        traces = {span.trace_id for span in spans}
        assert not traces & seen_traces
        seen_spans |= ids
        seen_traces |= traces


def test_rendering_equals_encoding_with_that_seq_and_shifted_times() -> None:
    body = build_body(4, 1, SPANS, BASE_NS)
    for name, encode in (("otlp-http-proto", otlp_protobuf), ("otlp-http-json", otlp_json)):
        template = build_pool(PROTOCOLS[name], 4, 2, SPANS, BASE_NS)[1]
        for seq in (0, 1, 0xABCDEF, 2**32 - 1):
            expected = encode(body, seq, lambda value, seq=seq: value + seq * TIME_STEP_NS)
            assert bytes(template.render(seq)) == expected, (name, seq)
    with pytest.raises(ValueError):
        template.render(2**32)


def uuids(values: list[str]) -> None:
    for value in values:
        uuid.UUID(value)


def test_dynamiq_runs_have_the_validated_fields() -> None:
    template = build_pool(PROTOCOLS["dynamiq"], 1, 1, SPANS, BASE_NS)[0]
    first, second = (orjson.loads(bytes(template.render(seq)))["runs"] for seq in (1, 2))
    assert len(first) == template.span_count == SPANS
    for run in first:
        # The fields the collector validates, per the vendor's documentation.
        assert {"id", "name", "type", "trace_id", "source_id", "start_time", "end_time", "status"} <= run.keys()
        assert run["type"] in ("workflow", "node") and run["status"] in ("succeeded", "failed")
        assert run["start_time"].endswith("Z") and run["start_time"] <= run["end_time"]
    uuids([run["id"] for run in first] + [run["trace_id"] for run in first])
    ids = {run["id"] for run in first}
    assert len(ids) == SPANS and not ids & {run["id"] for run in second}
    assert all(run["parent_run_id"] in ids for run in first if run["type"] == "node")


def test_agentvista_batches_stay_within_100_spans_and_have_the_documented_fields() -> None:
    template = build_pool(PROTOCOLS["agentvista"], 1, 1, AGENTVISTA_MAX_SPANS, BASE_NS)[0]
    document = orjson.loads(bytes(template.render(9)))
    items = document["traces"]
    children = [span for item in items for span in item["spans"]]
    assert len(children) <= AGENTVISTA_MAX_SPANS
    assert template.span_count == len(items) + len(children)  # each header becomes a root span
    for item in items:
        assert {"trace_id", "agent", "status", "started_at"} <= item["trace"].keys()
        for span in item["spans"]:
            assert {"span_id", "trace_id", "type", "name", "status", "started_at", "ended_at"} <= span.keys()
            assert span["trace_id"] == item["trace"]["trace_id"]
    uuids([item["trace"]["trace_id"] for item in items] + [span["span_id"] for span in children])
    with pytest.raises(ValueError, match="at most 100"):
        agentvista(build_body(1, 0, 200, BASE_NS), 0)


def test_aitracer_sends_one_native_llm_trace_per_request() -> None:
    template = build_pool(PROTOCOLS["aitracer"], 1, 1, 1, BASE_NS)[0]
    first, second = (orjson.loads(bytes(template.render(seq))) for seq in (1, 2))
    assert template.span_count == 1
    assert {"actionName", "status", "requestId", "model", "prompt", "response", "metrics"} <= first.keys()
    assert {"promptTokens", "completionTokens", "totalTokens", "latencyMs"} <= first["metrics"].keys()
    assert first["requestId"] != second["requestId"]
    assert len(first["prompt"]) >= 800
