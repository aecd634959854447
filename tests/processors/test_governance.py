"""The governance processor (collector/processors/governance.py) and its rules: PII and
secrets found and masked, the model allow-list, the cost ceiling, findings merged with those
already on a span, counted in metrics, the config's errors; and end to end on an OTLP pipeline."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.adapters.common.attributes import put
from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.core.metrics import Metrics
from spanhouse.collector.governance.rules import find_pii, luhn_valid, mask_text, model_allowed, severity_of
from spanhouse.collector.processors.governance import FACTORY, GovernanceConfig, GovernanceProcessor, findings_of
from tests.conftest import RecordingConsumer, StartCollector, StubHost
from tests.support.configs import collector_config


@pytest.mark.parametrize(("text", "expected"), [
    ("write to jane.doe+tag@mail.example.co.uk today", [("pii.email", "jane.doe+tag@mail.example.co.uk")]),
    ("call +1 415 555 0132 or (415) 555-0132", [("pii.phone", "+1 415 555 0132"), ("pii.phone", "(415) 555-0132")]),
    ("uk 07700 900123.", [("pii.phone", "07700 900123")]),
    ("card 4111 1111 1111 1111 ok", [("pii.card", "4111 1111 1111 1111")]),
    ("card 4111-1111-1111-1111", [("pii.card", "4111-1111-1111-1111")]),
    ("amex 378282246310005", [("pii.card", "378282246310005")]),
    ("not luhn 4111111111111112", []),
    ("key sk-proj-abcdefghijklmnopqrstuvwx1234 end", [("pii.secret", "sk-proj-abcdefghijklmnopqrstuvwx1234")]),
    ("aws AKIAIOSFODNN7EXAMPLE", [("pii.secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("gh ghp_" + "a" * 36, [("pii.secret", "ghp_" + "a" * 36)]),
    ("-----BEGIN RSA PRIVATE KEY-----", [("pii.secret", "-----BEGIN RSA PRIVATE KEY-----")]),
    ("date 2024-01-15 12:30:45, ip 192.168.100.200, v1.2.3, 3.14159, 1705312800000, order 12345", []),
])
def test_rules_find(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(match.rule, text[match.start:match.end]) for match in find_pii(text)] == expected


def test_rule_helpers() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    text = "a@b.io and 4111 1111 1111 1111"
    assert mask_text(text, find_pii(text), "[{rule}]") == "[pii.email] and [pii.card]"
    assert model_allowed("gpt-4o-2024-08-06", ["gpt-4o*"]) and not model_allowed("o3", ["gpt-4o*"])
    assert severity_of(["cost.ceiling", "pii.email"]) == "medium" and severity_of([]) == ""
    assert find_pii("a@b.io 4111111111111111", ["pii.card"])[0].rule == "pii.card"


def traces_with(*spans: dict[str, Any]) -> ExportTraceServiceRequest:
    traces = ExportTraceServiceRequest()
    scope = traces.resource_spans.add().scope_spans.add()
    for attributes in spans:
        span = scope.spans.add(name="s")
        for key, value in attributes.items():
            put(span.attributes, key, value)
    return traces


def values(span: Any) -> dict[str, Any]:
    result = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        value = getattr(item.value, kind)
        result[item.key] = [entry.string_value for entry in value.values] if kind == "array_value" else value
    return result


async def run(config: GovernanceConfig, traces: ExportTraceServiceRequest) -> tuple[list[Any], Metrics]:
    sink = RecordingConsumer()
    host = StubHost()
    processor = GovernanceProcessor(CreateSettings("governance"), config, sink)
    await processor.start(host)
    await processor.consume(traces)
    await processor.shutdown()
    return list(sink.received[0].resource_spans[0].scope_spans[0].spans), host.telemetry


async def test_detect_mode_adds_findings_and_keeps_content() -> None:
    config = GovernanceConfig(allowed_models=("gpt-4o*",), max_cost_usd=0.01)
    spans, metrics = await run(config, traces_with(
        {"gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"I am bob@example.com"}]}]',
         "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "o3-mini", "gen_ai.usage.cost": 0.02},
        {"http.url": "mailto:bob@example.com", "gen_ai.request.model": "gpt-4o-mini"},
        {"output.value": "card 4111 1111 1111 1111", "llm.cost.total": "0.001"},
    ))
    first, second, third = spans
    assert values(first)["governance.findings"] == ["cost.ceiling", "model.not_allowed", "pii.email"]
    assert values(first)["governance.severity"] == "medium"
    assert "bob@example.com" in values(first)["gen_ai.input.messages"]
    assert findings_of(second.attributes) == []  # not a content attribute; an allowed model
    assert "governance.severity" not in values(second)
    assert values(third)["governance.findings"] == ["pii.card"] and values(third)["governance.severity"] == "high"
    assert metrics.value("spanhouse_processor_governance_findings", processor="governance", rule="pii.email") == 1
    assert metrics.value("spanhouse_processor_governance_findings", processor="governance", rule="pii.card") == 1


async def test_redaction_mode_masks_before_storage_and_merges_findings() -> None:
    config = GovernanceConfig(mode="redaction", mask="***")
    spans, _ = await run(config, traces_with(
        {"gen_ai.prompt": "key sk-abcdefghijklmnopqrstuvwxyz and 415-555-0132",
         "gen_ai.tool.call.arguments": ["a@b.io", "fine"], "governance.findings": ["max_output_tokens"],
         "governance.severity": "low"}))
    (span,) = spans
    assert values(span)["gen_ai.prompt"] == "key *** and ***"
    assert values(span)["gen_ai.tool.call.arguments"] == ["***", "fine"]
    assert values(span)["governance.findings"] == ["max_output_tokens", "pii.email", "pii.phone", "pii.secret"]
    assert values(span)["governance.severity"] == "high"
    assert [item.key for item in span.attributes].count("governance.findings") == 1


async def test_span_events_of_older_producers_are_scanned() -> None:
    traces = traces_with({"gen_ai.request.model": "m"})
    event = traces.resource_spans[0].scope_spans[0].spans[0].events.add(name="gen_ai.user.message")
    put(event.attributes, "content", "reach me at a@b.io")
    spans, _ = await run(GovernanceConfig(mode="redaction"), traces)
    assert values(spans[0])["governance.findings"] == ["pii.email"]
    assert spans[0].events[0].attributes[0].value.string_value == "reach me at [REDACTED:pii.email]"


def test_config_defaults_and_errors() -> None:
    assert FACTORY.type == "governance"
    assert GovernanceConfig().validate() == []
    assert GovernanceConfig(pii_rules=("pii.ssn",), max_cost_usd=-1).validate() == [
        ("pii_rules[0]", 'unknown rule "pii.ssn" (known: pii.email, pii.phone, pii.card, pii.secret)'),
        ("max_cost_usd", "must be 0 (off) or a positive amount")]


OTLP_CONFIG = collector_config("processors/governance_redaction")


async def test_on_an_otlp_pipeline(start_collector: StartCollector) -> None:
    running = await start_collector(OTLP_CONFIG)
    traces = traces_with({"input.value": "my card is 4111 1111 1111 1111", "llm.model_name": "gpt-4"},
                         {"db.statement": "SELECT 1"})
    for index, span in enumerate(traces.resource_spans[0].scope_spans[0].spans):
        span.trace_id, span.span_id = bytes([1] * 16), bytes([index + 1] * 8)
        span.start_time_unix_nano = span.end_time_unix_nano = 1_781_082_000_000_000_000
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['http']}/v1/traces", data=traces.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 200
    rows = await running.aquery("SELECT SpanAttributes FROM otel.otel_traces ORDER BY SpanId")
    assert rows == [({"input.value": "my card is [REDACTED:pii.card]", "llm.model_name": "gpt-4",
                      "governance.findings": '["model.not_allowed","pii.card"]', "governance.severity": "high"},),
                    ({"db.statement": "SELECT 1"},)]
    metrics = running.service.metrics
    assert metrics.value("spanhouse_processor_governance_findings", processor="governance", rule="pii.card") == 1
