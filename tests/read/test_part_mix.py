"""Every documented read route on a table whose parts mix merged ones (which have the skip
indexes) and freshly inserted ones (which do not: skip indexes are built by merges), the state
of a table in normal use."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import aiohttp

from spanhouse.adapters.agentvista.plugin import agent_id
from spanhouse.collector.core.component import Traces
from tests.conftest import Collector, StartCollector
from tests.read.collector_setup import request, start_read_collector
from tests.read.sample_traces import (
    AGENTVISTA_TRACE_HEX,
    AGENTVISTA_TRACE_ID,
    OTLP_TRACE_HEX,
    PLAIN_TRACE_HEX,
    agentvista_body,
    otlp_traces,
)

SECOND_NS: Final = 1_000_000_000
MERGED_BATCHES: Final = 4
FRESH_BATCHES: Final = 3


def trace_hex(batch: int, original: str) -> str:
    """The sample trace's id, or another one of the same shape for each later batch."""
    return original if batch == 0 else f"{batch:02x}" + original[2:]


def batch_traces(batch: int, base_ns: int) -> Traces:
    """The OTLP sample traces (an agent trace with a failed gpt-4o call, a failed billing
    request) with their own ids, a second apart per batch."""
    traces = otlp_traces(base_ns + batch * SECOND_NS)
    for resource in traces.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                span.trace_id = bytes.fromhex(trace_hex(batch, span.trace_id.hex()))
    return traces


async def store_batch(running: Collector, batch: int, base_ns: int) -> None:
    payload = batch_traces(batch, base_ns).SerializeToString()
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['http']}/v1/traces", data=payload,
            headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 200
    await running.drain()  # one insert, one part, per batch


def parts(running: Collector) -> list[tuple[str, int]]:
    """The active parts of the spans table: name and the bytes of its skip indexes."""
    return [(str(name), int(size)) for name, size in running.query(
        "SELECT name, secondary_indices_compressed_bytes FROM system.parts "
        "WHERE database = 'otel' AND table = 'otel_traces' AND active ORDER BY name")]


async def get(running: Collector, path: str) -> tuple[int, Any]:
    return await request("GET", f"http://127.0.0.1:{running.ports['query']}{path}")


async def test_documented_reads_on_merged_and_fresh_parts(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    assert running.service.host is not None
    clickhouse = running.service.host.storage("clickhouse")
    base_ns = time.time_ns() - 600 * SECOND_NS  # ten minutes ago: inside lookback=1h
    status, body = await request("POST", f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/traces/batch",
                                 agentvista_body(base_ns - 60 * SECOND_NS))
    assert (status, body["accepted"]) == (200, 1)
    await running.drain()
    for batch in range(MERGED_BATCHES):
        await store_batch(running, batch, base_ns)
    await asyncio.to_thread(clickhouse.command, "OPTIMIZE TABLE otel.otel_traces FINAL")
    await asyncio.to_thread(clickhouse.command, "SYSTEM STOP MERGES otel.otel_traces")
    try:
        for batch in range(MERGED_BATCHES, MERGED_BATCHES + FRESH_BATCHES):
            await store_batch(running, batch, base_ns)
        sizes = [size for _, size in parts(running)]
        # The mix: one merged part with its indexes, and fresh parts without them.
        assert len(sizes) == 1 + FRESH_BATCHES and sizes[0] > 0 and sizes[1:] == [0] * FRESH_BATCHES, parts(running)
        await check_documented_reads(running)
    finally:
        await asyncio.to_thread(clickhouse.command, "SYSTEM START MERGES otel.otel_traces")


async def check_documented_reads(running: Collector) -> None:
    batches = range(MERGED_BATCHES + FRESH_BATCHES)
    agent_traces = [trace_hex(batch, OTLP_TRACE_HEX) for batch in reversed(batches)]  # newest first
    billing_traces = [trace_hex(batch, PLAIN_TRACE_HEX) for batch in reversed(batches)]
    every = len(batches)

    # The README's and docs/read-api.md's own filter query.
    status, body = await get(running, "/api/traces?lookback=1h&status=error&attribute=gen_ai.request.model=gpt-4o")
    assert status == 200, body
    assert [trace["trace_id"] for trace in body["traces"]] == agent_traces
    for query, expected in [
        ("attribute=gen_ai.tool.name%3Dlookup_order", agent_traces),
        ("attribute=gen_ai.request.model%3Dgpt-4o&attribute=gen_ai.operation.name%3Dchat",
         [*agent_traces, AGENTVISTA_TRACE_HEX]),
        ("attribute=http.request.method%3DPOST", billing_traces),
        ("attribute=gen_ai.request.model%3Dclaude", []),
        ("attribute=gen_ai.request.model%3Dgpt-4o&attribute=agentvista.type%3Dllm", [AGENTVISTA_TRACE_HEX]),
        ("service=billing&status=error", billing_traces),
        ("q=lookup&limit=2", agent_traces[:2]),
        ("span_name=POST%20/charge&min_duration=60ms", billing_traces),
    ]:
        status, body = await get(running, f"/api/traces?lookback=1h&{query}")
        assert (status, [trace["trace_id"] for trace in body["traces"]]) == (200, expected), query

    for batch in (0, every - 1):  # one trace from the merged part, one from a fresh part
        status, trace = await get(running, f"/api/traces/{trace_hex(batch, OTLP_TRACE_HEX)}")
        assert status == 200, trace
        assert [span["name"] for span in trace["spans"]] == [
            "invoke_agent triage", "chat gpt-4o-mini", "execute_tool lookup_order", "chat gpt-4o"]
        assert trace["summary"]["span_count"] == 4 and trace["summary"]["total_tokens"] == 420
    status, trace = await get(running, f"/api/traces/{OTLP_TRACE_HEX.upper()}")
    assert status == 200 and trace["trace_id"] == OTLP_TRACE_HEX

    status, body = await get(running, "/api/services?lookback=1h")
    assert status == 200, body
    assert [(service["name"], service["span_count"], service["trace_count"]) for service in body["services"]] == [
        ("billing", every, every), ("lead-qualifier", 2, 1), ("support-bot", 4 * every, every)]
    status, body = await get(running, "/api/agents?lookback=1h")
    assert status == 200, body
    assert [(agent["name"], agent["trace_count"]) for agent in body["agents"]] == [
        ("billing", every), ("lead-qualifier", 1), ("triage", every)]
    triage = agent_id("default", "triage")
    status, body = await get(running, f"/api/agents/compare?agent_a={triage}&agent_b=triage")
    assert status == 200, body
    assert [agent["trace_count"] for agent in body["agents"]] == [every, every]

    # AgentVista's read endpoints, on the trace in the merged part and an agent of fresh parts too.
    agentvista = f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/dashboard/traces"
    status, body = await request("GET", f"{agentvista}/{AGENTVISTA_TRACE_ID}")
    assert status == 200 and body["total_tokens"] == 1500 and len(body["spans"]) == 1, body
    lead = agent_id("default", "lead-qualifier")
    status, body = await request("GET", f"{agentvista}/compare-agents?agent_a={lead}&agent_b={triage}")
    assert status == 200, body

    for query in ["group_by=model&lookback=24h", "group_by=model&lookback=24h&step=1h", "lookback=1h",
                  "group_by=model&model=gpt-4o&lookback=1h"]:
        status, body = await get(running, f"/api/timeseries?{query}")
        assert status == 200, (query, body)
        counts: dict[str, int] = {}
        for bucket in body["buckets"]:
            counts[bucket["series"]] = counts.get(bucket["series"], 0) + bucket["count"]
        assert counts, query
        if "model=gpt-4o" in query:
            assert counts == {"gpt-4o": every + 1}, query  # the AgentVista span too
