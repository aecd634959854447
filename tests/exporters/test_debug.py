"""The debug exporter's output at each verbosity, its config check and its counter."""

from __future__ import annotations

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.collector.core.component import CreateSettings, Kind
from spanhouse.collector.core.metrics import Metrics
from spanhouse.exporters.debug import FACTORY, DebugConfig, DebugExporter, Verbosity
from spanhouse.proto.otlp_json import decode_traces
from tests.support.doubles import StubHost

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")


def two_spans() -> ExportTraceServiceRequest:
    traces = ExportTraceServiceRequest()
    scope = traces.resource_spans.add().scope_spans.add()
    scope.spans.add(trace_id=TRACE_ID, span_id=bytes.fromhex("eee19b7ec3c1b174"), name="GET /items",
                    start_time_unix_nano=1_000_000_000, end_time_unix_nano=1_012_500_000)
    scope.spans.add(trace_id=TRACE_ID, span_id=bytes.fromhex("0102030405060708"), name="line\nbreak",
                    start_time_unix_nano=5, end_time_unix_nano=5)
    return traces


async def run(verbosity: Verbosity, host: StubHost | None = None) -> None:
    exporter = FACTORY.create(CreateSettings("debug/test"), DebugConfig(verbosity))
    await exporter.start(host or StubHost(Metrics()))
    await exporter.consume(two_spans())
    await exporter.shutdown()
    await exporter.shutdown()


async def test_basic_writes_one_line_per_batch(capsys: pytest.CaptureFixture[str]) -> None:
    await run("basic")
    assert capsys.readouterr().err == "debug/test: 2 spans in 1 resource spans\n"


async def test_normal_writes_one_line_per_span(capsys: pytest.CaptureFixture[str]) -> None:
    await run("normal")
    assert capsys.readouterr().err.splitlines() == [
        "debug/test: 2 spans in 1 resource spans",
        'span "GET /items" trace_id=5b8efff798038103d269b633813fc60c span_id=eee19b7ec3c1b174 '
        "duration=12.500ms",
        'span "line\\nbreak" trace_id=5b8efff798038103d269b633813fc60c span_id=0102030405060708 '
        "duration=0.000ms",
    ]


async def test_detailed_writes_the_batch_as_otlp_json(capsys: pytest.CaptureFixture[str]) -> None:
    await run("detailed")
    summary, document = capsys.readouterr().err.split("\n", 1)
    assert summary == "debug/test: 2 spans in 1 resource spans"
    assert "\n  " in document  # indented for reading
    assert decode_traces(document.encode()) == two_spans()
    assert orjson.loads(document)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == TRACE_ID.hex()


async def test_counts_sent_spans() -> None:
    host = StubHost(Metrics())
    await run("basic", host)
    assert host.telemetry.value("otelcol_exporter_sent_spans", exporter="debug/test") == 2


async def test_works_without_telemetry_and_shuts_down_before_start(capsys: pytest.CaptureFixture[str]) -> None:
    exporter = DebugExporter(CreateSettings("debug"), DebugConfig())
    await exporter.shutdown()
    await exporter.start(StubHost(telemetry=None))
    await exporter.consume(ExportTraceServiceRequest())
    assert capsys.readouterr().err == "debug: 0 spans in 0 resource spans\n"


def test_config() -> None:
    assert FACTORY.type == "debug" and FACTORY.kind is Kind.EXPORTER and FACTORY.config_class is DebugConfig
    assert DebugConfig().verbosity == "basic"
    assert DebugConfig("detailed").validate() == []
    assert DebugConfig("loud").validate() == [  # type: ignore[arg-type]  # what YAML could hold
        ("verbosity", 'must be one of basic, normal, detailed, got "loud"')]
