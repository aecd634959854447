"""The collector's own metrics as Prometheus text (collector/core/metrics.py) served by the
telemetry listener (collector/telemetry/server.py): the 0.0.4 content type, escaped HELP and
label values, exact sample values, and the one registration of the exporters' sent-spans counter."""

from __future__ import annotations

import aiohttp

from spanhouse.collector.core.metrics import Metrics, exporter_sent_spans
from spanhouse.collector.telemetry.server import MetricsServer
from tests.conftest import free_port


def test_values_are_exact_and_text_is_escaped() -> None:
    metrics = Metrics()
    metrics.counter("spanhouse_test_total_bytes", "Bytes\\seen\nby the test", path='a"b\\c\nd').add(1_234_567)
    metrics.gauge("spanhouse_test_ratio", "A ratio").set(0.125)
    metrics.gauge("spanhouse_test_big", "Past 2**53").set(2.0**60)
    histogram = metrics.histogram("spanhouse_test_size", "Sizes", buckets=(0.5, 10))
    histogram.observe(0.25)
    histogram.observe(1_000_001)
    lines = metrics.render().splitlines()
    assert "# HELP spanhouse_test_total_bytes Bytes\\\\seen\\nby the test" in lines
    assert 'spanhouse_test_total_bytes{path="a\\"b\\\\c\\nd"} 1234567' in lines
    assert "spanhouse_test_ratio 0.125" in lines
    assert "spanhouse_test_big 1.152921504606847e+18" in lines
    assert 'spanhouse_test_size_bucket{le="0.5"} 1' in lines
    assert 'spanhouse_test_size_bucket{le="+Inf"} 2' in lines
    assert "spanhouse_test_size_sum 1000001.25" in lines



def test_a_counter_past_ten_million_reads_back_exactly() -> None:
    """A collector storing 40,000 spans/s passes 10**7 in about four minutes; six significant
    digits (`1.23457e+07`) would lose every change below a hundred spans."""
    metrics = Metrics()
    sent = exporter_sent_spans(metrics, "clickhouse")
    sent.add(12_345_678)
    sent.add(1)
    gauge = metrics.gauge("spanhouse_test_precise", "Full float precision")
    gauge.set(12_345_678.123456789)
    lines = metrics.render().splitlines()
    assert [line for line in lines if line.startswith("otelcol_exporter_sent_spans")] == [
        'otelcol_exporter_sent_spans{exporter="clickhouse"} 12345679']
    [precise] = [line for line in lines if line.startswith("spanhouse_test_precise ")]
    assert float(precise.split()[1]) == 12_345_678.123456789  # the shortest text that reads back exact

def test_every_exporter_registers_sent_spans_the_same_way() -> None:
    metrics = Metrics()
    counter = exporter_sent_spans(metrics, "file/a")
    counter.add(3)
    assert exporter_sent_spans(metrics, "file/a") is counter
    assert metrics.value("otelcol_exporter_sent_spans", exporter="file/a") == 3
    assert "# TYPE otelcol_exporter_sent_spans counter" in metrics.render()


async def test_served_with_the_exposition_content_type() -> None:
    metrics = Metrics()
    metrics.counter("otelcol_receiver_accepted_spans", "Spans accepted", receiver="otlp").add(2)
    server = MetricsServer(f"127.0.0.1:{free_port()}", metrics)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{server.bound_port}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert 'otelcol_receiver_accepted_spans{receiver="otlp"} 2\n' in await response.text()
    finally:
        await server.stop()
