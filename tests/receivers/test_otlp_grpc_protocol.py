"""OTLP/gRPC rules: gzip-compressed exports are taken, messages over max_recv_msg_size_mib are
refused with RESOURCE_EXHAUSTED, invalid spans give a partial success."""

from __future__ import annotations

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import BASIC_CONFIG, StartCollector
from tests.receivers.test_otlp_http_protocol import EXPECTED_ATTRIBUTES, every_value_type_request

SMALL_LIMIT = BASIC_CONFIG.replace("endpoint: 127.0.0.1:{port:grpc}",
                                   "endpoint: 127.0.0.1:{port:grpc}\n        max_recv_msg_size_mib: 1")


async def test_gzip_export_is_stored(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}",
                                         compression=grpc.Compression.Gzip) as channel:
        reply = await trace_service_pb2_grpc.TraceServiceStub(channel).Export(every_value_type_request(), timeout=10)
    assert not reply.HasField("partial_success")
    assert await collector.aquery("SELECT SpanAttributes FROM otel.otel_traces") == [(EXPECTED_ATTRIBUTES,)]


async def test_message_over_the_limit_is_resource_exhausted(start_collector: StartCollector) -> None:
    collector = await start_collector(SMALL_LIMIT)
    request = every_value_type_request()
    request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="big").value.string_value = "x" * 1_200_000
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            await stub.Export(request, timeout=10)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        else:
            raise AssertionError("an over-size message was accepted")
        # The limit applies after decompression too: the same message gzip-compressed is tiny.
        try:
            await stub.Export(request, timeout=10, compression=grpc.Compression.Gzip)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        else:
            raise AssertionError("an over-size message was accepted once compressed")
    assert await collector.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]


async def test_partial_success_over_grpc(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    request = every_value_type_request("good")
    request.resource_spans[0].scope_spans[0].spans.add(name="bad", trace_id=b"\x00" * 16, span_id=b"\x01" * 8)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        reply = await trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
    assert reply.partial_success.rejected_spans == 1
    assert reply.partial_success.error_message
    assert await collector.aquery("SELECT SpanName FROM otel.otel_traces") == [("good",)]
