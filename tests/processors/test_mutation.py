"""The mutation contract (collector/fanout.py, otelcol's MutatesData): a processor that
modifies spans declares it, and the fan-out gives it its own copy whenever the same traces
also go to another consumer, so one pipeline's redaction never shows in another's store."""

from __future__ import annotations

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.adapters.common.attributes import put
from spanhouse.collector.core.component import mutates_data
from spanhouse.collector.fanout import FanOut
from spanhouse.collector.processors.governance import FACTORY as GOVERNANCE
from spanhouse.collector.processors.governance import GovernanceProcessor
from spanhouse.proto.otlp_json import decode_traces
from tests.conftest import RecordingConsumer, StartCollector
from tests.support.configs import collector_config

CARD = "my card is 4111 1111 1111 1111"


def one_span(**attributes: str) -> ExportTraceServiceRequest:
    traces = ExportTraceServiceRequest()
    span = traces.resource_spans.add().scope_spans.add().spans.add(name="s")
    span.trace_id, span.span_id = bytes([1] * 16), bytes([2] * 8)
    span.start_time_unix_nano = span.end_time_unix_nano = 1_781_082_000_000_000_000
    for key, value in attributes.items():
        put(span.attributes, key, value)
    return traces


def test_capabilities_declared() -> None:
    assert GovernanceProcessor.mutates_data is True
    assert GOVERNANCE.kind == "processor"
    assert mutates_data(RecordingConsumer()) is False  # undeclared: read only
    assert mutates_data(RecordingConsumer(mutates_data=True)) is True


async def test_a_mutating_consumer_gets_its_own_copy() -> None:
    traces = one_span(name="x")
    mutating, reading, other_reader = RecordingConsumer(mutates_data=True), RecordingConsumer(), RecordingConsumer()
    fan = FanOut([mutating, reading, other_reader])
    assert not fan.mutates_data  # it copied for the one that mutates
    await fan.consume(traces)
    assert reading.received[0] is traces and other_reader.received[0] is traces
    assert mutating.received[0] is not traces and mutating.received[0] == traces


async def test_when_all_mutate_the_last_gets_the_original() -> None:
    traces = one_span(name="x")
    first, last = RecordingConsumer(mutates_data=True), RecordingConsumer(mutates_data=True)
    fan = FanOut([first, last])
    assert fan.mutates_data  # whoever feeds it must copy if it also feeds a reader
    await fan.consume(traces)
    assert last.received[0] is traces
    assert first.received[0] is not traces and first.received[0] == traces


def stored(path: str) -> list[dict[str, str]]:
    lines = open(path, "rb").read().splitlines()  # noqa: SIM115
    spans = [span for line in lines for resource in decode_traces(line).resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    return [{item.key: item.value.string_value for item in span.attributes} for span in spans]


async def test_two_pipelines_sharing_a_receiver(start_collector: StartCollector) -> None:
    # traces/redacted is [batch, governance]: its head (batch) does not mutate, but the
    # pipeline does, so the receiver's fan-out copies for it.
    running = await start_collector(collector_config("processors/governance_two_pipelines"))
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['http']}/v1/traces", data=one_span(**{"input.value": CARD})
            .SerializeToString(), headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 200
    await running.service.shutdown()
    (redacted,) = stored(f"{running.directory}/redacted.jsonl")
    assert redacted["input.value"] == "my card is [REDACTED:pii.card]"
    assert stored(f"{running.directory}/raw.jsonl") == [{"input.value": CARD}]
