"""Generated and mutated bodies thrown at every route of every receiver over real HTTP and
gRPC, with valid requests interleaved. Invariants: never a 5xx, never a hang, the process
stays up and its memory bounded, and every valid request is answered 2xx and stored.

A bounded run is part of the default test command; the long one is behind the `slow` marker:
SPANHOUSE_FUZZ_SECONDS=1800 pytest -m slow tests/security/test_fuzz.py -s (seed with
SPANHOUSE_FUZZ_SEED; numbers and findings are in docs/security.md)."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from proto.compression import compress
from proto.otlp_json import encode_traces
from tests.conftest import StartCollector
from tests.security.helpers import RECEIVERS, SERVICE, WRITE_TOKEN, otlp_request, vendor_routes
from tests.security.mutator import mutate_bytes, mutate_json

CONFIG = "receivers:" + RECEIVERS + SERVICE + """
auth:
  tokens:
    - token: ${env:SPANHOUSE_WRITE_TOKEN}
      tenant: fuzz
      rate_limit:
        requests_per_second: 0
"""
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
REQUEST_TIMEOUT_S = 30.0
# Growth of the process's peak RSS a run may cause (the collector runs in the test process).
MAX_RSS_GROWTH_KIB = 600 * 1024


@dataclass
class Target:
    name: str
    kind: str  # "json", "protobuf" or "grpc"
    url: str
    valid: Any  # a valid body (bytes for protobuf and grpc, a JSON document otherwise)
    content_type: str
    cases: int = 0
    statuses: dict[int | str, int] = field(default_factory=dict)


def targets(collector: Any) -> list[Target]:
    http = f"http://127.0.0.1:{collector.ports['http']}/v1/traces"
    valid = otlp_request(spans=3)
    result = [
        Target("otlp-http-protobuf", "protobuf", http, valid.SerializeToString(), "application/x-protobuf"),
        Target("otlp-http-json", "json", http, orjson.loads(encode_traces(valid)), "application/json"),
        Target("otlp-grpc", "grpc", f"127.0.0.1:{collector.ports['grpc']}", valid.SerializeToString(), ""),
    ]
    for route in vendor_routes():
        result.append(Target(f"{route.receiver}{route.path}", "json",
                             f"http://127.0.0.1:{collector.ports[route.receiver]}{route.path}", route.body,
                             "application/json"))
    return result


def hostile_headers(rng: random.Random, target: Target, body: bytes) -> tuple[dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": target.content_type}
    roll = rng.random()
    if roll < 0.05:
        headers["Authorization"] = rng.choice(("", "Bearer", "Bearer " + "A" * 10_000, "Basic x", "bearer  x"))
    elif roll < 0.1:
        headers["Content-Type"] = rng.choice(("text/html", "application/json; charset=latin-1", "", "*/*"))
    elif roll < 0.25:
        encoding = rng.choice(("gzip", "deflate", "zstd"))
        body = compress(body, encoding)
        if rng.random() < 0.5:
            body = mutate_bytes(rng, body)
        headers["Content-Encoding"] = encoding
    elif roll < 0.28:
        headers["Content-Encoding"] = rng.choice(("br", "gzip, gzip", "x" * 200))
    return headers, body


async def send_http(session: aiohttp.ClientSession, target: Target, body: bytes,
                    headers: dict[str, str]) -> int:
    async with session.post(target.url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def send_grpc(channel: grpc.aio.Channel, body: bytes, token: str = WRITE_TOKEN) -> str:
    export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
    try:
        await export(body, metadata=(("authorization", f"Bearer {token}"),), timeout=REQUEST_TIMEOUT_S)
        return "OK"
    except grpc.aio.AioRpcError as error:
        return str(error.code().name)


SERVER_ERRORS = {"INTERNAL", "UNKNOWN", "DATA_LOSS", "UNIMPLEMENTED", "DEADLINE_EXCEEDED"}


def valid_request(serial: int) -> ExportTraceServiceRequest:
    request = otlp_request(spans=1)
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\xfa" + serial.to_bytes(15, "big")
    return request


async def fuzz(collector: Any, cases_per_route: int, seconds: float, seed: int) -> dict[str, Target]:
    rng = random.Random(seed)
    all_targets = targets(collector)
    deadline = time.monotonic() + seconds
    valid_sent = 0
    failures: list[str] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            grpc.aio.insecure_channel(all_targets[2].url) as channel:
        case = 0
        while True:
            done = all(target.cases >= cases_per_route for target in all_targets) if not seconds else \
                time.monotonic() >= deadline
            if done:
                break
            case += 1
            for target in all_targets:
                if not seconds and target.cases >= cases_per_route:
                    continue
                target.cases += 1
                mutate = mutate_json if target.kind == "json" else mutate_bytes
                body = mutate(rng, target.valid)
                if target.kind == "grpc":
                    status: int | str = await send_grpc(channel, body)
                    bad = status in SERVER_ERRORS
                else:
                    headers, body = hostile_headers(rng, target, body)
                    status = await send_http(session, target, body, headers)
                    bad = status >= 500
                target.statuses[status] = target.statuses.get(status, 0) + 1
                if bad:
                    failures.append(f"{target.name}: {status} for seed {seed}, case {case}: {body[:200]!r}")
            if case % 10 == 0:  # a valid request, which must be answered 2xx and stored
                valid_sent += 1
                request = valid_request(valid_sent)
                if valid_sent % 2:
                    status = await send_http(session, all_targets[0], request.SerializeToString(),
                                             {"Authorization": f"Bearer {WRITE_TOKEN}",
                                              "Content-Type": "application/x-protobuf"})
                    assert status == 200, status
                else:
                    assert await send_grpc(channel, request.SerializeToString()) == "OK"
    elapsed = time.monotonic() - started
    report({target.name: target for target in all_targets}, seed, elapsed)
    assert not failures, "\n".join(failures[:20])
    expected = {"fa" + serial.to_bytes(15, "big").hex() for serial in range(1, valid_sent + 1)}
    sql = ("SELECT TraceId, count() FROM otel.otel_traces WHERE startsWith(TraceId, 'fa') AND TenantId = 'fuzz' "
           "GROUP BY TraceId")
    stored: dict[str, int] = {}
    for _ in range(100):
        stored = {trace_id: count for trace_id, count in await collector.aquery(sql)}
        if expected <= stored.keys():
            break
        await asyncio.sleep(0.1)
    missing = expected - stored.keys()
    assert not missing, f"{len(missing)} of {valid_sent} valid requests not stored"
    duplicated = {trace_id: count for trace_id, count in stored.items() if trace_id in expected and count > 1}
    assert not duplicated, f"valid requests stored more than once: {duplicated}"
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(f"  {valid_sent} valid requests stored once each; peak RSS growth {growth // 1024} MiB")
    assert growth < MAX_RSS_GROWTH_KIB, f"peak RSS grew by {growth} KiB"
    return {target.name: target for target in all_targets}


def report(results: dict[str, Target], seed: int, elapsed_s: float) -> None:
    print(f"\nfuzz seed {seed}, {elapsed_s:.0f}s")
    for name, target in results.items():
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(target.statuses.items(), key=str))
        print(f"  {name}: {target.cases} cases ({statuses})")


@pytest.fixture
async def collector(start_collector: StartCollector, tmp_path: Path) -> Any:
    return await start_collector(CONFIG, env={"SPANHOUSE_WRITE_TOKEN": WRITE_TOKEN})


async def test_fuzz_every_route_briefly(collector: Any) -> None:
    seed = int(os.environ.get("SPANHOUSE_FUZZ_SEED", "20260610"))
    await fuzz(collector, int(os.environ.get("SPANHOUSE_FUZZ_CASES", "300")), 0, seed)


@pytest.mark.slow
async def test_fuzz_every_route_for_long(collector: Any) -> None:
    seed = int(os.environ.get("SPANHOUSE_FUZZ_SEED", str(random.randrange(2**32))))
    seconds = float(os.environ.get("SPANHOUSE_FUZZ_SECONDS", "600"))
    await fuzz(collector, 0, seconds, seed)
