"""Retryable refusals: a ClickHouse that cannot be reached gives 503/UNAVAILABLE, a memory
limiter above its soft limit gives 429/RESOURCE_EXHAUSTED, both with a retry delay."""

from __future__ import annotations

import asyncio

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import BASIC_CONFIG, StartCollector
from tests.receivers.test_otlp_http_protocol import every_value_type_request, post

# Without the sending queue an export is answered only after its insert, so an unreachable
# ClickHouse is visible to senders at once (with the queue they are answered once it is durable).
UNREACHABLE = BASIC_CONFIG.replace(
    "endpoint: chdb://{dir}/clickhouse",
    "endpoint: http://127.0.0.1:{port:nothing}\n    sending_queue:\n      enabled: false")
OVER_LIMIT = BASIC_CONFIG.replace("processors:\n", "processors:\n  memory_limiter:\n    limit_mib: 1\n").replace(
    "processors: [batch]", "processors: [memory_limiter, batch]")


async def export_grpc(port: int) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            await stub.Export(every_value_type_request(), timeout=10)
        except grpc.aio.AioRpcError as error:
            return error
    raise AssertionError("the export was accepted")


async def test_unreachable_clickhouse_answers_503_with_retry_after(start_collector: StartCollector) -> None:
    collector = await start_collector(UNREACHABLE)
    status, _, headers = await post(collector, every_value_type_request().SerializeToString(),
                                    "application/x-protobuf")
    assert status == 503
    assert int(headers["Retry-After"]) > 0
    error = await export_grpc(collector.ports["grpc"])
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    metrics = collector.service.metrics
    assert metrics.value("otelcol_receiver_refused_spans", receiver="otlp", transport="http") == 1
    assert metrics.value("otelcol_receiver_refused_spans", receiver="otlp", transport="grpc") == 1


async def test_memory_limiter_answers_429_and_resource_exhausted(start_collector: StartCollector) -> None:
    collector = await start_collector(OVER_LIMIT)
    status, _, headers = await post(collector, every_value_type_request().SerializeToString(),
                                    "application/x-protobuf")
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    error = await export_grpc(collector.ports["grpc"])
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The status carries RetryInfo, without which OTLP clients do not retry RESOURCE_EXHAUSTED.
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert details is not None and b"type.googleapis.com/google.rpc.RetryInfo" in details
    await asyncio.sleep(0)
    assert await collector.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]

