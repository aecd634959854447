"""The conversion workers: the same Native bytes as converting in-process, bad input as a
permanent error, a killed worker as a retryable one (and a new worker for the next batch),
workers ended on close; the exporter with `conversion_workers: 0`; skip indexes built by
merges unless `materialize_skip_indexes_on_insert` asks for them on insert."""

from __future__ import annotations

import asyncio

import pytest

from spanhouse.collector.core.errors import PermanentError, RetryableError
from spanhouse.exporters.clickhouse.columns import resource_groups
from spanhouse.exporters.clickhouse.conversion import Converter, WorkerStoppedError
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.clickhouse.native import GROUP_SPANS, encode_native

from .conftest import MakeExporter, StubHost
from .otlp_samples import ROUND_TRIP_QUERY, expected_rows, full_request, simple_request
from .test_exporter import as_lists


def payload_of(spans: int) -> bytes:
    return simple_request(spans).SerializeToString()


@pytest.mark.parametrize("compression", [None, "lz4", "zstd"])
async def test_a_worker_gives_the_bytes_of_an_in_process_conversion(compression: str | None) -> None:
    converter = Converter(1, compression)
    await converter.start()
    try:
        payload = full_request().SerializeToString() + payload_of(300)  # two requests, concatenated
        rows = await converter.encode(payload)
        local = encode_native(payload, compression)
        assert (rows.data, rows.span_count, rows.compression) == (local.data, local.span_count, compression)
        assert rows.span_count == len(expected_rows()) + 300
    finally:
        await converter.close()


async def test_undecodable_input_is_permanent_and_the_worker_carries_on() -> None:
    converter = Converter(1, None)
    try:
        with pytest.raises(PermanentError, match="cannot be converted"):
            await converter.encode(b"\x0a\xff\xff\xff\xff\x0f")
        assert (await converter.encode(payload_of(5))).span_count == 5
    finally:
        await converter.close()


async def test_a_killed_worker_is_retryable_and_replaced() -> None:
    converter = Converter(1, None)
    await converter.start()
    try:
        [worker] = converter._idle
        worker.process.kill()
        worker.process.wait()
        with pytest.raises(WorkerStoppedError) as caught:
            await converter.encode(payload_of(5))
        assert isinstance(caught.value, RetryableError)
        assert (await converter.encode(payload_of(7))).span_count == 7
        assert converter._idle and converter._idle[0] is not worker
    finally:
        await converter.close()


async def test_close_ends_the_workers_and_concurrent_batches_share_them() -> None:
    converter = Converter(2, None)
    await converter.start()
    processes = [worker.process for worker in converter._idle]
    results = await asyncio.gather(*(converter.encode(payload_of(count)) for count in (10, 20, 30, 40)))
    assert [rows.span_count for rows in results] == [10, 20, 30, 40]
    assert {worker.process for worker in converter._idle} == set(processes)  # no extra workers
    await converter.close()
    assert [process.poll() for process in processes] == [0, 0]


async def test_converting_in_a_thread_stores_the_same_rows(make_exporter: MakeExporter, host: StubHost) -> None:
    exporter = make_exporter(conversion_workers=0)
    await exporter.start(host)
    await exporter.consume(full_request())
    _, stored = exporter.storage_client().query(ROUND_TRIP_QUERY)
    assert [as_lists(row) for row in stored] == expected_rows()


def index_bytes(exporter: ClickHouseExporter) -> list[int]:
    """Skip-index bytes of each active part of the spans table."""
    _, rows = exporter.storage_client().query("SELECT secondary_indices_compressed_bytes FROM system.parts "
                             "WHERE database = 'otel' AND table = 'otel_traces' AND active ORDER BY name")
    return [int(row[0]) for row in rows]


async def test_skip_indexes_are_built_by_merges_by_default(started: ClickHouseExporter) -> None:
    await started.consume(simple_request(200))
    await started.consume(simple_request(200))
    assert index_bytes(started) == [0, 0]  # inserted parts: no index yet
    # Queries stay correct on parts without indexes; they only read more.
    assert started.storage_client().query(
        "SELECT count() FROM otel.otel_traces WHERE SpanAttributes['attribute.3'] = 'v3-7'")[1] == [(2,)]
    await asyncio.to_thread(started.storage_client().command, "OPTIMIZE TABLE otel.otel_traces FINAL")
    [merged] = index_bytes(started)
    assert merged > 0


async def test_skip_indexes_on_insert_when_asked(make_exporter: MakeExporter, host: StubHost) -> None:
    exporter = make_exporter(materialize_skip_indexes_on_insert=True)
    await exporter.start(host)
    await exporter.consume(simple_request(200))
    [inserted] = index_bytes(exporter)
    assert inserted > 0


def test_resource_groups_keep_resources_whole_and_in_order() -> None:
    request = simple_request(0)
    for spans in (3, 5, 1, 4, 2):
        request.resource_spans.extend(simple_request(spans).resource_spans)
    groups = [[sum(len(scope.spans) for scope in resource.scope_spans) for resource in group]
              for group in resource_groups(request.resource_spans, 6)]
    assert groups == [[0, 3, 5], [1, 4, 2]]


async def test_batches_larger_than_a_group_store_every_span(started: ClickHouseExporter) -> None:
    requests = [simple_request(1500) for _ in range(4)]
    for number, request in enumerate(requests):
        for span in request.resource_spans[0].scope_spans[0].spans:
            span.span_id = number.to_bytes(2, "big") + span.span_id[2:]
    payload = b"".join(request.SerializeToString() for request in requests)
    assert GROUP_SPANS < 6000  # two groups
    await started.export_encoded(payload, 6000, None)
    _, rows = started.storage_client().query("SELECT count(), uniqExact(SpanId), sum(Duration), "
                            "sum(length(SpanAttributes)) FROM otel.otel_traces")
    assert rows == [(6000, 6000, 6000 * 12_345, 6000 * 10)]
