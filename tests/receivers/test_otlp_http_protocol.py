"""OTLP/HTTP protocol rules on a running collector: encodings, compression, status codes,
partial success, and round trips of every attribute value type through ClickHouse."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from spanhouse.collector.core.component import Traces
from spanhouse.proto.compression import compress
from spanhouse.proto.otlp_json import encode_traces
from tests.conftest import BASIC_CONFIG, Collector, StartCollector

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")


def every_value_type_request(span_name: str = "every-type", trace_id: bytes = TRACE_ID,
                             span_id: bytes = bytes.fromhex("eee19b7ec3c1b174")) -> Traces:
    request = Traces()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value="raw-client"))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "raw"
    span = scope_spans.spans.add(name=span_name, trace_id=trace_id, span_id=span_id, kind=3,
                                 start_time_unix_nano=1_700_000_000_000_000_001,
                                 end_time_unix_nano=1_700_000_000_000_000_101)
    span.attributes.extend([
        KeyValue(key="s", value=AnyValue(string_value="text")),
        KeyValue(key="b", value=AnyValue(bool_value=True)),
        KeyValue(key="i", value=AnyValue(int_value=-9_007_199_254_740_993)),
        KeyValue(key="d", value=AnyValue(double_value=1.5)),
        KeyValue(key="a", value=AnyValue(array_value=ArrayValue(values=[
            AnyValue(string_value="x"), AnyValue(int_value=2)]))),
        KeyValue(key="m", value=AnyValue(kvlist_value=KeyValueList(values=[
            KeyValue(key="k", value=AnyValue(string_value="v"))]))),
        KeyValue(key="bytes", value=AnyValue(bytes_value=b"\x00\x01\xff")),
    ])
    return request


EXPECTED_ATTRIBUTES = {
    "s": "text", "b": "true", "i": "-9007199254740993", "d": "1.5", "a": '["x",2]', "m": '{"k":"v"}',
    "bytes": base64.b64encode(b"\x00\x01\xff").decode(),
}


async def post(collector: Collector, body: bytes, content_type: str, path: str = "/v1/traces",
               encoding: str | None = None, method: str = "POST") -> tuple[int, bytes, dict[str, str]]:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    async with aiohttp.ClientSession() as session, session.request(
            method, f"http://127.0.0.1:{collector.ports['http']}{path}", data=body, headers=headers) as response:
        return response.status, await response.read(), dict(response.headers)


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate", "zstd"])
@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
async def test_every_value_type_round_trips(start_collector: StartCollector, content_type: str,
                                            encoding: str | None) -> None:
    collector = await start_collector(BASIC_CONFIG)
    request = every_value_type_request()
    body = request.SerializeToString() if content_type == "application/x-protobuf" else encode_traces(request)
    if encoding:
        body = compress(body, encoding)
    status, _, headers = await post(collector, body, content_type, encoding=encoding)
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)
    rows = await collector.aquery(
        "SELECT SpanAttributes, ServiceName, SpanKind, Duration, toUnixTimestamp64Nano(Timestamp), TraceId, SpanId "
        "FROM otel.otel_traces")
    assert rows == [(EXPECTED_ATTRIBUTES, "raw-client", "Client", 100, 1_700_000_000_000_000_001,
                     TRACE_ID.hex(), "eee19b7ec3c1b174")]


async def test_partial_success_keeps_valid_spans(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    request = every_value_type_request("good")
    request.resource_spans[0].scope_spans[0].spans.add(name="bad", trace_id=b"\x01\x02\x03",
                                                       span_id=bytes(range(1, 9)))
    status, body, _ = await post(collector, request.SerializeToString(), "application/x-protobuf")
    assert status == 200
    reply = ExportTraceServiceResponse.FromString(body)
    assert reply.partial_success.rejected_spans == 1
    assert "trace_id" in reply.partial_success.error_message
    assert await collector.aquery("SELECT SpanName FROM otel.otel_traces") == [("good",)]


async def test_protocol_errors(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    status, body, _ = await post(collector, b"\xff\xff garbage", "application/x-protobuf")
    assert status == 400
    from spanhouse.proto.status import decode_status

    code, message = decode_status(body, as_json=False)
    assert code == 3 and "protobuf" in message
    status, body, _ = await post(collector, b'{"resourceSpans": 5}', "application/json")
    assert status == 400
    assert "resourceSpans" in decode_status(body, as_json=True)[1]
    status, _, _ = await post(collector, b"{}", "text/plain")
    assert status == 415
    status, _, _ = await post(collector, b"", "application/x-protobuf", method="GET")
    assert status == 405
    for signal in ("metrics", "logs"):
        status, body, _ = await post(collector, b"{}", "application/json", path=f"/v1/{signal}")
        assert status == 404
        assert b"traces only" in body
    status, body, _ = await post(collector, b"not gzip", "application/x-protobuf", encoding="gzip")
    assert status == 400
    status, _, _ = await post(collector, b"", "application/x-protobuf", encoding="br")
    assert status == 415
    # An empty request is a success.
    status, body, _ = await post(collector, b"", "application/x-protobuf")
    assert status == 200 and ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()
    status, body, _ = await post(collector, b"{}", "application/json")
    assert status == 200
    assert json_format.Parse(body, ExportTraceServiceResponse()) == ExportTraceServiceResponse()


async def test_body_limits_before_and_after_decompression(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG.replace(
        "endpoint: 127.0.0.1:{port:http}", "endpoint: 127.0.0.1:{port:http}\n        max_request_body_size: 64KiB"))
    status, _, _ = await post(collector, b"\x00" * 70_000, "application/x-protobuf")
    assert status == 413
    bomb = compress(b"\x00" * 10_000_000, "gzip")
    assert len(bomb) < 65536
    status, _, _ = await post(collector, bomb, "application/x-protobuf", encoding="gzip")
    assert status == 413
