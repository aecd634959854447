"""The load driver over each OTLP transport against an in-process collector (every
acknowledged span stored), and its accounting of refusals against a scripted server."""

from __future__ import annotations

import pytest
from aiohttp import web

from bench.driver import LoadOptions, LoadStats, drive, percentile, summarize
from bench.templates import PROTOCOLS, build_pool
from tests.conftest import BASIC_CONFIG, StartCollector, free_port

BASE_NS = 1_781_082_000_000_000_000


@pytest.mark.parametrize("protocol", ["otlp-http-json", "otlp-grpc"])
async def test_every_acknowledged_span_is_stored(start_collector: StartCollector, protocol: str) -> None:
    collector = await start_collector(BASIC_CONFIG)
    target = (f"127.0.0.1:{collector.ports['grpc']}" if protocol == "otlp-grpc"
              else f"http://127.0.0.1:{collector.ports['http']}")
    options = LoadOptions(protocol, target, duration_s=0.5, concurrency=2, rate=400, spans_per_request=20,
                          pool_size=2, base_time_ns=BASE_NS)
    stats = await drive(options, build_pool(PROTOCOLS[protocol], 1, 2, 20, BASE_NS))
    assert stats.requests >= 5 and stats.spans_acknowledged == stats.spans_sent == stats.requests * 20
    [(stored,)] = await collector.aquery("SELECT count() FROM otel.otel_traces")
    assert stored == stats.spans_acknowledged
    [(distinct,)] = await collector.aquery("SELECT uniqExact(TraceId, SpanId) FROM otel.otel_traces")
    assert distinct == stored


async def test_refusals_errors_and_partial_success_are_counted_apart() -> None:
    answers = iter([
        web.Response(status=429, headers={"Retry-After": "0"}),
        web.Response(status=503, headers={"Retry-After": "0"}),
        web.Response(status=400),
        web.json_response({"partialSuccess": {"rejectedSpans": "3"}}),
    ])

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return next(answers, web.json_response({}))

    app = web.Application()
    app.router.add_post("/v1/traces", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        # Paced at 10 requests/s for 1 s, one at a time: the scripted answers in order, then 200s.
        options = LoadOptions("otlp-http-json", f"http://127.0.0.1:{port}", duration_s=1.0, concurrency=1,
                              rate=100, spans_per_request=10, pool_size=1, base_time_ns=BASE_NS)
        stats = await drive(options, build_pool(PROTOCOLS["otlp-http-json"], 1, 1, 10, BASE_NS))
    finally:
        await runner.cleanup()
    summary = summarize(stats)
    assert stats.requests >= 5
    assert (summary["count_429"], summary["count_503"], summary["other_errors"]) == (1, 1, 1)
    assert stats.spans_acknowledged == (10 - 3) + (stats.requests - 4) * 10
    assert summary["latency_ms"]["p50"] is not None


def test_percentiles_and_merging() -> None:
    values = [float(value) for value in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, None)
    total = LoadStats(requests=1, spans_acknowledged=5, statuses={"200": 1}, first_send_s=10.0, last_ack_s=11.0)
    total.merge(LoadStats(requests=2, spans_acknowledged=7, statuses={"200": 1, "429": 1}, first_send_s=9.0,
                          last_ack_s=12.0))
    assert (total.requests, total.spans_acknowledged, total.statuses) == (3, 12, {"200": 2, "429": 1})
    assert (total.first_send_s, total.last_ack_s) == (9.0, 12.0)
