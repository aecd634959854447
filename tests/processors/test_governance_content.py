"""Where the governance processor looks for content: the GenAI conventions it knows, plus the
attributes the configured receivers declare (a vendor's own names, e.g. the aitracer plugin's);
the processor itself names no vendor."""

from __future__ import annotations

import aiohttp
import orjson

from spanhouse.adapters.aitracer.plugin import CONTENT_ATTRIBUTES, PLUGIN
from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.processors.governance import DEFAULT_CONTENT_ATTRIBUTES, GovernanceConfig, GovernanceProcessor
from spanhouse.collector.receivers.adapter.receiver import adapter_receiver_factory
from tests.conftest import RecordingConsumer, StartCollector
from tests.processors.test_governance import traces_with, values
from tests.support.configs import collector_config


async def test_declared_content_attributes_are_scanned_and_masked() -> None:
    sink = RecordingConsumer()
    settings = CreateSettings("governance", content_attributes=frozenset({"acme.prompt"}))
    processor = GovernanceProcessor(settings, GovernanceConfig(mode="redaction"), sink)
    await processor.consume(traces_with({"acme.prompt": "mail me at ann@example.com",
                                         "acme.note": "ann@example.com"}))
    span = sink.received[0].resource_spans[0].scope_spans[0].spans[0]
    assert values(span) == {"acme.prompt": "mail me at [REDACTED:pii.email]", "acme.note": "ann@example.com",
                            "governance.findings": ["pii.email"], "governance.severity": "medium"}


def test_vendor_names_come_from_the_plugin_not_the_processor() -> None:
    assert not [name for name in DEFAULT_CONTENT_ATTRIBUTES if name.startswith(("aitracer.", "openai_agents."))]
    assert PLUGIN.content_attributes == CONTENT_ATTRIBUTES
    assert "aitracer.guardrail.output_info" in CONTENT_ATTRIBUTES
    assert adapter_receiver_factory(PLUGIN).content_attributes == CONTENT_ATTRIBUTES


async def test_aitracer_guardrail_output_is_masked_before_storage(start_collector: StartCollector) -> None:
    running = await start_collector(collector_config("processors/governance_aitracer"))
    body = {"traceId": "trace_0af7651916cd43dd8448eb211c80319c", "results": [
        {"guardrailName": "Contains PII", "tripwireTriggered": True, "stage": "output",
         "outputInfo": {"entities": ["ann@example.com"]}}]}
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['aitracer']}/api/integrations/openai-guardrails",
            data=orjson.dumps(body), headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer akt_test_workspace"}) as response:
        assert response.status == 200
    rows = await running.aquery(
        "SELECT SpanAttributes['aitracer.guardrail.output_info'], SpanAttributes['governance.findings'] "
        "FROM otel.otel_traces WHERE SpanAttributes['openinference.span.kind'] = 'GUARDRAIL'")
    assert rows == [('{"entities":["[REDACTED:pii.email]"]}', '["pii.email"]')]
