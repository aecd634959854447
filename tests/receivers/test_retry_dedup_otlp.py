"""A client's retry is stored once on the otlp receiver (issue 12, point 8): the same request sent
again over OTLP/HTTP (protobuf, JSON, another Content-Encoding) or gRPC by the same tenant is
answered as the first time and its spans are stored once; a refused request's retry is stored."""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanhouse.collector.core.component import Traces
from spanhouse.collector.processors.memory_limiter import MemoryLimiter
from spanhouse.proto.compression import compress
from spanhouse.proto.otlp_json import encode_traces
from tests.conftest import BASIC_CONFIG, Collector, StartCollector
from tests.receivers.test_otlp_http_protocol import every_value_type_request, post
from tests.receivers.test_otlp_refusals import OVER_LIMIT

PROTOBUF = "application/x-protobuf"
ROWS = "SELECT SpanName, count() FROM otel.otel_traces GROUP BY SpanName ORDER BY SpanName"


def two_spans_and_a_bad_one() -> Traces:
    """Two spans to store and one to reject, so that the answer (partial_success) is not empty."""
    request = every_value_type_request("first")
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.add(name="second", trace_id=spans[0].trace_id, span_id=bytes(range(1, 9)),
              start_time_unix_nano=1_700_000_000_000_000_001, end_time_unix_nano=1_700_000_000_000_000_002)
    spans.add(name="bad", trace_id=b"\x01\x02\x03", span_id=bytes(range(2, 10)))
    return request


def repeats(collector: Collector) -> float:
    return collector.service.metrics.value("spanhouse_receiver_repeated_requests", receiver="otlp")


async def test_protobuf_retry_is_stored_once_even_sent_compressed(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    body = two_spans_and_a_bad_one().SerializeToString()
    first = await post(collector, body, PROTOBUF)
    second = await post(collector, compress(body, "gzip"), PROTOBUF, encoding="gzip")
    third = await post(collector, body, PROTOBUF)
    assert first[0] == second[0] == third[0] == 200
    assert first[1] == second[1] == third[1]
    assert ExportTraceServiceResponse.FromString(first[1]).partial_success.rejected_spans == 1
    assert second[2]["Content-Type"].startswith(PROTOBUF)
    assert await collector.aquery(ROWS) == [("first", 1), ("second", 1)]
    assert repeats(collector) == 2


async def test_json_retry_is_stored_once(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    body = encode_traces(two_spans_and_a_bad_one())
    answers = [await post(collector, body, "application/json") for _ in range(2)]
    assert [status for status, _, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1] and b"rejectedSpans" in answers[0][1]
    assert await collector.aquery(ROWS) == [("first", 1), ("second", 1)]


async def test_grpc_retry_is_stored_once(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    request = two_spans_and_a_bad_one()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        first = await stub.Export(request, timeout=10)
        second = await stub.Export(request, timeout=10, compression=grpc.Compression.Gzip)
    assert first == second and first.partial_success.rejected_spans == 1
    assert await collector.aquery(ROWS) == [("first", 1), ("second", 1)]
    # The window is the receiver's: the same request sent over HTTP is another route, stored again.
    status, _, _ = await post(collector, request.SerializeToString(), PROTOBUF)
    assert status == 200
    assert await collector.aquery(ROWS) == [("first", 2), ("second", 2)]


async def test_simultaneous_identical_requests_are_stored_once(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    body = two_spans_and_a_bad_one().SerializeToString()
    answers = await asyncio.gather(*(post(collector, body, PROTOBUF) for _ in range(8)))
    assert {(status, answer) for status, answer, _ in answers} == {(200, answers[0][1])}
    assert await collector.aquery(ROWS) == [("first", 1), ("second", 1)]


TOKEN_A = "tenant-a-token-0123456789"
TOKEN_B = "tenant-b-token-0123456789"
TWO_TENANTS = BASIC_CONFIG + f"""
auth:
  tokens:
    - token: {TOKEN_A}
      tenant: acme
      scopes: [write]
    - token: {TOKEN_B}
      tenant: beta
      scopes: [write]
"""


async def test_two_tenants_sending_the_same_request_are_both_stored(start_collector: StartCollector) -> None:
    collector = await start_collector(TWO_TENANTS)
    body = two_spans_and_a_bad_one().SerializeToString()
    url = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    async with aiohttp.ClientSession() as session:
        for token in (TOKEN_A, TOKEN_B, TOKEN_A, TOKEN_B):
            async with session.post(url, data=body, headers={"Content-Type": PROTOBUF,
                                                             "Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200
    rows = await collector.aquery("SELECT TenantId, SpanName, count() FROM otel.otel_traces "
                                  "GROUP BY TenantId, SpanName ORDER BY TenantId, SpanName")
    assert rows == [("acme", "first", 1), ("acme", "second", 1), ("beta", "first", 1), ("beta", "second", 1)]


async def test_a_refused_request_retried_is_stored_once(start_collector: StartCollector) -> None:
    """Refused with 429 by the real memory limiter (over its limit), then memory is back (the
    limiter reads an RSS of 0 from then on): the retry is processed and stored, its repeat is not."""
    collector = await start_collector(OVER_LIMIT)
    body = two_spans_and_a_bad_one().SerializeToString()
    status, _, _ = await post(collector, body, PROTOBUF)
    assert status == 429
    limiter = next(processor for processor in collector.service._processors if isinstance(processor, MemoryLimiter))
    limiter._read_rss = lambda: 0.0
    limiter.check()
    first = await post(collector, body, PROTOBUF)
    second = await post(collector, body, PROTOBUF)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert await collector.aquery(ROWS) == [("first", 1), ("second", 1)]


async def test_a_window_of_zero_stores_every_copy(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG.replace(
        "receivers:\n  otlp:\n", "receivers:\n  otlp:\n    retry_dedup:\n      window: 0\n"))
    body = two_spans_and_a_bad_one().SerializeToString()
    for _ in range(2):
        assert (await post(collector, body, PROTOBUF))[0] == 200
    assert await collector.aquery(ROWS) == [("first", 2), ("second", 2)]


async def test_a_retry_after_a_restart_is_stored_once(start_collector: StartCollector) -> None:
    """The window is kept in data/state/otlp.retries.sqlite3: a client whose answer was lost when
    the collector stopped, and that sends the request again to the restarted collector, gets the
    first answer, over HTTP and gRPC alike."""
    collector = await start_collector(BASIC_CONFIG)
    request = two_spans_and_a_bad_one()
    first = await post(collector, request.SerializeToString(), PROTOBUF)
    grpc_request = every_value_type_request("over-grpc")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.ports['grpc']}") as channel:
        await trace_service_pb2_grpc.TraceServiceStub(channel).Export(grpc_request, timeout=10)
    await collector.service.shutdown()
    assert (collector.directory / "data" / "state" / "otlp.retries.sqlite3").exists()

    restarted = await start_collector(BASIC_CONFIG.replace("{port:grpc}", str(collector.ports["grpc"])).replace(
        "{port:http}", str(collector.ports["http"])).replace("{port:metrics}", str(collector.ports["metrics"])))
    restarted.ports.update(collector.ports)
    again = await post(restarted, request.SerializeToString(), PROTOBUF)
    assert again[:2] == first[:2]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{restarted.ports['grpc']}") as channel:
        await trace_service_pb2_grpc.TraceServiceStub(channel).Export(grpc_request, timeout=10)
    assert await restarted.aquery(ROWS) == [("first", 1), ("over-grpc", 1), ("second", 1)]
    assert repeats(restarted) == 2
