"""Every input limit end to end, on a running collector: each answered with a 4xx in the
route's own error shape, none costing more than its limit, and the collector still serving."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from spanhouse.collector.server.limits import TRUNCATION_MARKER
from spanhouse.proto.status import decode_status
from tests.conftest import StartCollector
from tests.security.helpers import (
    OPEN_CONFIG,
    otlp_request,
    post,
    post_json,
    rows_when_ready,
    vendor_routes,
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}
MIB = 1024 * 1024


@pytest.fixture
async def collector(start_collector: StartCollector, tmp_path: Path) -> Any:
    return await start_collector(OPEN_CONFIG)


def bomb(encoding: str, size: int) -> bytes:
    zeros = b"\0" * size
    if encoding == "gzip":
        return gzip.compress(zeros)
    if encoding == "deflate":
        return zlib.compress(zeros)
    return zstandard.ZstdCompressor().compress(zeros)


async def test_body_and_decompressed_size_on_every_route(collector: Any) -> None:
    otlp_url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    # 16 MiB default on OTLP/HTTP: refused from Content-Length, before the body is read.
    status, _, raw = await post(otlp_url, b"\0" * (16 * MIB + 1), PROTOBUF)
    assert status == 413 and decode_status(raw)[0] == 8
    for encoding in ("gzip", "deflate", "zstd"):
        status, _, _ = await post(otlp_url, bomb(encoding, 64 * MIB), {**PROTOBUF, "Content-Encoding": encoding})
        assert status == 413, encoding
    for route in vendor_routes():  # 1 MiB in this config
        url = f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}"
        status, _, _ = await post_json(url, {"padding": "x" * MIB}, {})
        assert status == 413, route
        for encoding in ("gzip", "deflate", "zstd"):
            status, _, _ = await post(url, bomb(encoding, 8 * MIB),
                                      {"Content-Type": "application/json", "Content-Encoding": encoding})
            assert status == 413, (route, encoding)
    # gRPC: 4 MiB per message, also after decompression.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}",
                                         compression=grpc.Compression.Gzip) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        request = otlp_request()
        request.resource_spans[0].scope_spans[0].spans[0].name = "x" * (5 * MIB)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Export(request)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        await stub.Export(otlp_request())  # still serving


async def test_counts_per_request_and_span(collector: Any) -> None:
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    too_many_spans = otlp_request(spans=51)
    status, _, raw = await post(url, too_many_spans.SerializeToString(), PROTOBUF)
    assert status == 413 and "max_spans_per_request" in decode_status(raw)[1]
    for field, limit in (("attributes", 20), ("events", 5), ("links", 5)):
        request = otlp_request()
        span = request.resource_spans[0].scope_spans[0].spans[0]
        for index in range(limit + 1):
            item = getattr(span, field).add()
            if field == "attributes":
                item.key, item.value.int_value = f"key{index}", index
            elif field == "events":
                item.name = "event"
            else:
                item.trace_id, item.span_id = b"\1" * 16, b"\2" * 8
        status, _, raw = await post(url, request.SerializeToString(), PROTOBUF)
        assert status == 413, field
        assert f"{limit + 1} {field}" in decode_status(raw)[1]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await trace_service_pb2_grpc.TraceServiceStub(channel).Export(too_many_spans)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_long_values_are_truncated_with_a_marker_and_counted(collector: Any) -> None:
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    request = otlp_request(trace_byte=0x7E)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    attribute = span.attributes.add()
    attribute.key, attribute.value.string_value = "prompt", "p" * 500
    nested = span.events.add()
    nested.name = "event"
    inner = nested.attributes.add()
    inner.key = "list"
    inner.value.array_value.values.add().string_value = "q" * 300
    status, _, _ = await post(url, request.SerializeToString(), PROTOBUF)
    assert status == 200
    rows = await rows_when_ready(collector, "SELECT SpanAttributes['prompt'], Events.Attributes FROM "
                                            f"otel.otel_traces WHERE TraceId = '{'7e' * 16}'", 1)
    prompt, events = rows[0]
    assert prompt == "p" * 100 + TRUNCATION_MARKER
    assert TRUNCATION_MARKER in events[0]["list"]
    metrics = collector.service.metrics.render()
    assert 'spanhouse_receiver_truncated_attribute_values{receiver="otlp"} 2' in metrics


async def test_deep_json_is_refused_without_reaching_the_recursion_limit(collector: Any) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    deep_object = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    for route in vendor_routes():
        url = f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}"
        for body in (deep, deep_object, b'{"x":' + b"[" * 100 + b"]" * 100 + b"}"):
            status, _, raw = await post(url, body, {"Content-Type": "application/json"})
            assert status == 400, (route, status)
            orjson.loads(raw)  # the vendor's JSON error shape
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    for body in (deep, deep_object):
        status, _, _ = await post(url, body, {"Content-Type": "application/json"})
        assert status == 400


async def test_slow_clients(start_collector: StartCollector) -> None:
    collector = await start_collector(OPEN_CONFIG.replace(
        "      max_links_per_span: 5\n",
        "      max_links_per_span: 5\n      header_read_timeout: 300ms\n      body_read_timeout: 300ms\n"
        "      max_connections: 3\n"))
    port = collector.ports["http"]
    # Headers that never end: the connection is closed after header_read_timeout.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # A body that never ends: 408 after body_read_timeout.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                 b"Content-Length: 1000\r\n\r\nabc")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    writer.close()
    # More open connections than the cap: the extra one is told 503 and closed.
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
    writer.close()
    for _, held_writer in held:
        held_writer.close()
    await asyncio.sleep(0.1)
    status, _, _ = await post(f"http://127.0.0.1:{port}/v1/traces", otlp_request().SerializeToString(), PROTOBUF)
    assert status == 200
