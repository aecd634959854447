"""Generated and mutated bodies thrown at every route of every receiver over real HTTP and
gRPC, with valid requests interleaved. Two sources of cases: the seeded structure-aware mutator
(tests/security/mutator.py) applied to each route's valid body, and hypothesis strategies
(tests/security/strategies.py) that generate OTLP requests and route-shaped JSON documents, which
the mutator then usually corrupts; hypothesis runs without an example database and with a fixed
seed, so a run replays exactly, and a failing case shrinks to a minimal one. Invariants: never a
5xx, never a hang, the process stays up, every valid request is answered 2xx and stored once,
and (long run) the resident set levels off after a warm-up.

A bounded run is part of the default test command (SPANHOUSE_FUZZ_CASES mutated and
SPANHOUSE_FUZZ_EXAMPLES generated cases per route). The long one is behind the `slow` marker:
SPANHOUSE_FUZZ_SECONDS=1800 pytest -m slow tests/security/test_fuzz.py -s (seed with
SPANHOUSE_FUZZ_SEED; SPANHOUSE_FUZZ_TRACEMALLOC=1 adds a Python-heap column and a tracemalloc diff,
SPANHOUSE_FUZZ_MALLOC_TRIM=1 an RSS-after-malloc_trim column). Numbers and findings are in
docs/security.md."""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import re
import resource
import statistics
import time
import traceback
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import hypothesis
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.proto.compression import compress
from spanhouse.proto.otlp_json import encode_traces
from tests.adapters.golden import load_case
from tests.conftest import StartCollector
from tests.security.helpers import WRITE_TOKEN, otlp_request, vendor_routes
from tests.security.mutator import mutate_bytes, mutate_json
from tests.security.strategies import fuzz_bodies
from tests.support.configs import collector_config

CONFIG = collector_config("security/fuzz")
AITRACER_ROUTES = (
    ("aitracer", "native_documented_example"), ("openai_agents", "every_span_type"),
    ("aitracer", "guardrails_results"), ("aitracer", "tool_calls_linked"), ("aitracer", "webhook_generic"),
)
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
    bodies: Any = None  # the hypothesis strategy for this route, built once

    def strategy(self) -> Any:
        if self.bodies is None:
            self.bodies = fuzz_bodies(self.kind, self.valid)
        return self.bodies


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
    aitracer = f"http://127.0.0.1:{collector.ports['aitracer']}"
    for vendor, case in AITRACER_ROUTES:
        request, _ = load_case(vendor, case)
        result.append(Target(f"aitracer{request.path}", "json", aitracer + request.path, request.body,
                             "application/json"))
    result.append(Target("aitracer/api/ingest/feedback", "json", aitracer + "/api/ingest/feedback",
                         {"traceId": "req_finance_001", "rating": "down", "score": 0.5, "comment": "wrong numbers"},
                         "application/json"))
    result.append(Target("aitracer/api/integrations/otlp/v1/traces", "json",
                         aitracer + "/api/integrations/otlp/v1/traces", orjson.loads(encode_traces(valid)),
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
VALID_EVERY = 100  # one valid request per this many fuzz cases


def valid_request(serial: int) -> ExportTraceServiceRequest:
    request = otlp_request(spans=1)
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\xfa" + serial.to_bytes(15, "big")
    return request


def rss_kib(field: str = "VmRSS") -> int:
    """The process's resident set now (not its peak; the collector runs in the test process), or
    its part `RssAnon` (heap, not pages of mapped files such as the chdb library's code)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@dataclass
class Sample:
    elapsed_s: float
    cases: int
    rss_kib: int
    anon_kib: int
    clickhouse_kib: int  # what the embedded ClickHouse's memory tracker counts (MemoryTracking)
    python_kib: int  # tracemalloc's traced Python memory, when SPANHOUSE_FUZZ_TRACEMALLOC is set
    parts: int  # active parts of otel_traces
    trimmed_kib: int  # RSS right after glibc's malloc_trim(0), when SPANHOUSE_FUZZ_MALLOC_TRIM is set
    jemalloc_allocated_kib: int  # chdb's jemalloc: bytes allocated and live
    jemalloc_resident_kib: int  # chdb's jemalloc: pages it holds resident (live, cached and metadata)


class Fuzzer:
    """Sends fuzz cases to the running collector, interleaving valid requests, and samples its memory."""

    def __init__(self, collector: Any, session: aiohttp.ClientSession, channel: grpc.aio.Channel) -> None:
        self.collector = collector
        self.session = session
        self.channel = channel
        self.targets = targets(collector)
        self.failures: list[str] = []
        self.cases = 0
        self.valid_sent = 0
        self.samples: list[Sample] = []
        self.started = time.monotonic()

    async def throw(self, target: Target, body: bytes, rng: random.Random) -> tuple[int | str, bool]:
        """Sends one case; returns its answer and whether that answer breaks the invariants."""
        headers = None
        if target.kind != "grpc":
            headers, body = hostile_headers(rng, target, body)
        return await self.send(target, body, headers)

    async def send(self, target: Target, body: bytes, headers: dict[str, str] | None) -> tuple[int | str, bool]:
        target.cases += 1
        self.cases += 1
        valid_due = self.cases % VALID_EVERY == 0  # counted before sending: sends run concurrently
        if headers is None:
            status: int | str = await send_grpc(self.channel, body)
            bad = status in SERVER_ERRORS
        else:
            status = await send_http(self.session, target, body, headers)
            bad = status >= 500
        target.statuses[status] = target.statuses.get(status, 0) + 1
        if valid_due:
            await self.send_valid()
        return status, bad

    async def send_valid(self) -> None:
        """A valid request, which must be answered 2xx and (checked at the end) stored exactly once."""
        self.valid_sent += 1
        request = valid_request(self.valid_sent)
        if self.valid_sent % 2:
            headers = {"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/x-protobuf"}
            status = await send_http(self.session, self.targets[0], request.SerializeToString(), headers)
            assert status == 200, status
        else:
            assert await send_grpc(self.channel, request.SerializeToString()) == "OK"

    async def mutate_round(self, rng: random.Random, cases_per_route: int, seed: int,
                           deadline: float | None = None) -> None:
        """`cases_per_route` valid bodies mutated by the seeded mutator: one per route at a time,
        the routes concurrently (the bodies are made in a fixed order, so a seed replays them)."""
        for case in range(cases_per_route):
            if deadline is not None and time.monotonic() >= deadline:
                return
            cases: list[tuple[Target, bytes, dict[str, str] | None]] = []
            for target in self.targets:
                body = (mutate_json if target.kind == "json" else mutate_bytes)(rng, target.valid)
                headers = None
                if target.kind != "grpc":
                    headers, body = hostile_headers(rng, target, body)
                cases.append((target, body, headers))
            answers = await asyncio.gather(*(self.send(*sent) for sent in cases))
            for (target, body, _), (status, bad) in zip(cases, answers, strict=True):
                if bad:
                    self.failures.append(f"{target.name}: {status} for seed {seed}, case {case}: {body[:200]!r}")

    async def hypothesis_round(self, examples_per_route: int, seed: int) -> None:
        """`examples_per_route` hypothesis-generated (and usually then mutated) bodies per route.
        Hypothesis runs in a worker thread and sends each case through this event loop; a failing
        case is shrunk to a minimal body and recorded."""
        loop = asyncio.get_running_loop()
        for index, target in enumerate(self.targets):
            run = hypothesis_case(self, target, examples_per_route, seed + index, loop)
            try:
                await asyncio.to_thread(run)
            except Exception as error:  # a falsified invariant, with hypothesis's minimal example in its notes
                causes = [repr(cause) for cause in getattr(error, "exceptions", ())]  # FlakyFailure is a group
                self.failures.append(f"{target.name}: hypothesis seed {seed + index}: {causes} "
                                     + "".join(traceback.format_exception_only(error))[:2000])

    async def sample_memory(self) -> Sample:
        rows = await asyncio.to_thread(
            self.collector.query,
            "SELECT (SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'), "
            "(SELECT count() FROM system.parts WHERE active AND database = 'otel' AND table = 'otel_traces')")
        stats = await asyncio.to_thread(self.collector.query, "SELECT * FROM system.jemalloc_stats")
        found = re.search(rb"Allocated: (\d+), active: \d+, metadata: \d+.*?, resident: (\d+)",
                          b"".join(row[0] if isinstance(row[0], bytes) else str(row[0]).encode() for row in stats))
        allocated, resident = (int(found[1]) // 1024, int(found[2]) // 1024) if found else (0, 0)
        python = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        rss, anon = rss_kib(), rss_kib("RssAnon")
        trimmed = 0
        if os.environ.get("SPANHOUSE_FUZZ_MALLOC_TRIM"):  # how much of the RSS is freed heap glibc holds on to
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            trimmed = rss_kib()
        sample = Sample(time.monotonic() - self.started, self.cases, rss, anon, int(rows[0][0] or 0) // 1024,
                        python // 1024, int(rows[0][1]), trimmed, allocated, resident)
        self.samples.append(sample)
        return sample

    async def check_stored(self) -> None:
        expected = {"fa" + serial.to_bytes(15, "big").hex() for serial in range(1, self.valid_sent + 1)}
        sql = ("SELECT TraceId, count() FROM otel.otel_traces WHERE startsWith(TraceId, 'fa') AND TenantId = 'fuzz' "
               "GROUP BY TraceId")
        stored: dict[str, int] = {}
        for _ in range(100):
            stored = {trace_id: count for trace_id, count in await self.collector.aquery(sql)}
            if expected <= stored.keys():
                break
            await asyncio.sleep(0.1)
        missing = expected - stored.keys()
        assert not missing, f"{len(missing)} of {self.valid_sent} valid requests not stored"
        duplicated = {trace_id: count for trace_id, count in stored.items() if trace_id in expected and count > 1}
        assert not duplicated, f"valid requests stored more than once: {duplicated}"
        print(f"  {self.valid_sent} valid requests stored once each")


def hypothesis_case(fuzzer: Fuzzer, target: Target, examples: int, seed: int,
                    loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    @hypothesis.settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                         suppress_health_check=list(hypothesis.HealthCheck), print_blob=False,
                         phases=(hypothesis.Phase.generate, hypothesis.Phase.shrink))
    @hypothesis.seed(seed)  # with no example database, the same seed generates the same cases
    @hypothesis.given(target.strategy())
    def case(drawn: tuple[bytes, random.Random]) -> None:
        body, rng = drawn
        future = asyncio.run_coroutine_threadsafe(fuzzer.throw(target, body, rng), loop)
        status, bad = future.result(REQUEST_TIMEOUT_S * 2)
        assert not bad, f"{target.name} answered {status} to {body[:200]!r}"

    return case  # type: ignore[no-any-return]


def report(fuzzer: Fuzzer, seed: int) -> None:
    print(f"\nfuzz seed {seed}, {time.monotonic() - fuzzer.started:.0f}s, {fuzzer.cases} cases")
    for target in fuzzer.targets:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(target.statuses.items(), key=str))
        print(f"  {target.name}: {target.cases} cases ({statuses})")


@asynccontextmanager
async def fuzzer_for(collector: Any) -> AsyncIterator[Fuzzer]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    grpc_url = f"127.0.0.1:{collector.ports['grpc']}"
    # The receivers close a connection idle for header_read_timeout (10 s); aiohttp's client
    # would reuse one for 15 s, and a request on a connection the server has just closed fails
    # with ServerDisconnectedError (seen once, when a route sat idle through a hypothesis round).
    connector = aiohttp.TCPConnector(keepalive_timeout=5)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session, \
            grpc.aio.insecure_channel(grpc_url) as channel:
        yield Fuzzer(collector, session, channel)


@pytest.fixture
async def collector(start_collector: StartCollector, tmp_path: Path) -> Any:
    return await start_collector(CONFIG, env={"SPANHOUSE_WRITE_TOKEN": WRITE_TOKEN})


async def test_fuzz_every_route_briefly(collector: Any) -> None:
    """The bounded run of the default test command: per route, SPANHOUSE_FUZZ_CASES mutated
    valid bodies and SPANHOUSE_FUZZ_EXAMPLES hypothesis-generated ones, all seeded."""
    seed = int(os.environ.get("SPANHOUSE_FUZZ_SEED", "20260610"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with fuzzer_for(collector) as fuzzer:
        await fuzzer.mutate_round(random.Random(seed), int(os.environ.get("SPANHOUSE_FUZZ_CASES", "1850")), seed)
        await fuzzer.hypothesis_round(int(os.environ.get("SPANHOUSE_FUZZ_EXAMPLES", "150")), seed)
        report(fuzzer, seed)
        assert not fuzzer.failures, "\n".join(fuzzer.failures[:20])
        await fuzzer.check_stored()
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(f"  peak RSS growth {growth // 1024} MiB")
    assert growth < MAX_RSS_GROWTH_KIB, f"peak RSS grew by {growth} KiB"


@pytest.mark.slow
async def test_fuzz_every_route_for_long(collector: Any) -> None:
    """Rounds of mutated and hypothesis-generated cases for SPANHOUSE_FUZZ_SECONDS, sampling
    the collector's memory; after a warm-up, its RSS must level off (see rss_levels_off)."""
    seed = int(os.environ.get("SPANHOUSE_FUZZ_SEED", str(random.randrange(2**32))))
    seconds = float(os.environ.get("SPANHOUSE_FUZZ_SECONDS", "600"))
    if os.environ.get("SPANHOUSE_FUZZ_TRACEMALLOC"):
        tracemalloc.start()
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    snapshot: tracemalloc.Snapshot | None = None
    async with fuzzer_for(collector) as fuzzer:
        print(f"\nfuzz seed {seed}: elapsed s, cases, RSS MiB, anonymous RSS MiB, ClickHouse MiB, Python MiB, "
              "parts, RSS trimmed MiB, jemalloc allocated MiB, jemalloc resident MiB")
        round_ = 0
        while time.monotonic() < deadline:
            await fuzzer.mutate_round(rng, 100, seed, deadline)
            if time.monotonic() < deadline and round_ % 5 == 4:
                await fuzzer.hypothesis_round(20, seed + round_ * 1000)
            round_ += 1
            if not fuzzer.samples or time.monotonic() - fuzzer.started - fuzzer.samples[-1].elapsed_s >= 15:
                sample = await fuzzer.sample_memory()
                print(f"  {sample.elapsed_s:.0f} {sample.cases} {sample.rss_kib // 1024} {sample.anon_kib // 1024} "
                      f"{sample.clickhouse_kib // 1024} {sample.python_kib // 1024} {sample.parts} "
                      f"{sample.trimmed_kib // 1024} {sample.jemalloc_allocated_kib // 1024} "
                      f"{sample.jemalloc_resident_kib // 1024}", flush=True)
                if snapshot is None and tracemalloc.is_tracing() and sample.elapsed_s >= warm_up_s(seconds):
                    snapshot = tracemalloc.take_snapshot()
        await fuzzer.sample_memory()
        report(fuzzer, seed)
        if snapshot is not None:
            print("  tracemalloc growth after warm-up, top 15:")
            for stat in tracemalloc.take_snapshot().compare_to(snapshot, "lineno")[:15]:
                print(f"    {stat}")
        assert not fuzzer.failures, "\n".join(fuzzer.failures[:20])
        await fuzzer.check_stored()
    rss_levels_off(fuzzer.samples, seconds)


def warm_up_s(seconds: float) -> float:
    """The recorded runs' RSS rose for 10 to 15 minutes (the embedded ClickHouse's jemalloc
    filling its per-CPU arenas and dirty-page caches, libchdb's code paging in) and then stayed."""
    return min(600.0, max(60.0, seconds / 3))


# The resident set swings by a couple of hundred MiB from one sample to the next (a 1 MiB body
# parsed on 15 routes at once, 70,000-character strings, ClickHouse merges), so the checks
# compare medians of thirds of the run after the warm-up rather than single samples. The bounds
# are justified by the recorded runs in docs/security.md.
# RSS_TREND_MIB: how far the median may rise from the first third to the last. A 30-minute run
# sends at least 350 cases a second, so the 20 minutes after its warm-up compare medians about 13
# minutes (some 270,000 requests) apart: a leak of 400 bytes a request shows as 100 MiB. Caches
# and allocator arenas, which fill up and then stay, do not rise (recorded, 30- and 25-minute
# runs: 700 -> 633 MiB and 609 -> 579 MiB).
RSS_TREND_MIB = 96
# RSS_SPIKE_MIB: how far above the first third's median any single sample may be: about twice
# the largest swing recorded (+194 MiB: bursts of large bodies parsed on 15 routes at once).
RSS_SPIKE_MIB = 384


def rss_levels_off(samples: list[Sample], seconds: float) -> None:
    after = [sample.rss_kib // 1024 for sample in samples if sample.elapsed_s >= warm_up_s(seconds)]
    if len(after) < 6:
        return
    third = len(after) // 3
    first, last = statistics.median(after[:third]), statistics.median(after[-third:])
    print(f"  RSS after warm-up: median {first:.0f} MiB in the first third, {last:.0f} MiB in the last, "
          f"highest {max(after)} MiB")
    if seconds >= 1200:  # shorter runs end while the RSS is still rising towards its plateau
        assert last - first <= RSS_TREND_MIB, f"RSS keeps growing: median {first:.0f} -> {last:.0f} MiB"
    assert max(after) - first <= RSS_SPIKE_MIB, f"RSS reached {max(after)} MiB (median {first:.0f} MiB)"
