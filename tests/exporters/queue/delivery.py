"""Helpers of the delivery-guarantee tests: a collector in its own process (so it can be killed),
clients that remember exactly which spans were acknowledged, and the stored rows to check."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from spanhouse.collector.core.component import Traces
from tests.conftest import free_ports
from tests.support.configs import collector_config

REPO = Path(__file__).resolve().parents[3]

CONFIG = collector_config("exporters/queue_delivery")


@dataclass
class CollectorProcess:
    directory: Path
    queue_size: int = 100_000
    shutdown_timeout: str = "10s"
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.ports = free_ports(("http", "health", "metrics"))
        self.config_path = self.directory / "collector.yaml"
        self.faults_path = self.directory / "faults"
        # The collector's log goes to a file: a pipe nobody reads fills up after 64 KiB, and a
        # collector that logs much (a long run of refusals) would then block in its logging.
        self.log_path = self.directory / "collector.log"
        self.faults_path.write_text("")
        self.config_path.write_text(CONFIG.format(dir=self.directory, queue_size=self.queue_size,
                                                  shutdown_timeout=self.shutdown_timeout, **self.ports))

    def fault(self, mode: str) -> None:
        self.faults_path.write_text(mode)
        stamp = time.time() + 1  # a new mtime even within the filesystem's timestamp granularity
        os.utime(self.faults_path, (stamp, stamp))

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "SPANHOUSE_FAULTS_FILE": str(self.faults_path)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "spanhouse.collector", "run", "--config",
                                             str(self.config_path)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                            stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self.log_tail()
                raise AssertionError(f"collector exited: {errors}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['health']}/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        raise AssertionError("collector did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout_s)
        if code != 0:
            print(self.log_tail())  # shown by pytest when the test fails
        return code

    def log_tail(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:]

    def wait_exit(self, timeout_s: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['metrics']}/metrics", timeout=5) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith(name + "{") or line.startswith(name + " "):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    def sql(self, query: str) -> list[list[str]]:
        result = subprocess.run([sys.executable, "-m", "spanhouse.collector", "sql", query,
                                 "--config", str(self.config_path), "--format", "csv"],
                                capture_output=True, text=True, cwd=REPO, timeout=120,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        assert result.returncode == 0, result.stderr
        return [line.split(",") for line in result.stdout.splitlines()[1:]]

    def stored_spans(self) -> tuple[int, set[str]]:
        """(rows, distinct span ids) in ClickHouse."""
        rows = self.sql("SELECT SpanId FROM otel.otel_traces")
        return len(rows), {row[0].strip('"') for row in rows}

    def wait_stored(self, expected: set[str], timeout_s: float = 90) -> tuple[int, set[str]]:
        """Rows and distinct ids once every id of `expected` is stored (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while True:
            count, ids = self.stored_spans()
            if expected <= ids or time.monotonic() > deadline:
                return count, ids
            time.sleep(0.3)


def request_body(client: int, number: int, spans: int) -> tuple[bytes, list[str]]:
    traces = Traces()
    scope = traces.resource_spans.add().scope_spans.add()
    trace_id = client.to_bytes(4, "big") + number.to_bytes(8, "big") + b"\x00\x00\x00\x01"
    ids = []
    for index in range(spans):
        span_id = client.to_bytes(2, "big") + number.to_bytes(4, "big") + index.to_bytes(2, "big")
        scope.spans.add(name="load", trace_id=trace_id, span_id=span_id, start_time_unix_nano=1_700_000_000_000_000_000,
                        end_time_unix_nano=1_700_000_000_000_001_000)
        ids.append(span_id.hex())
    return traces.SerializeToString(), ids


@dataclass
class LoadResult:
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    retry_after_seen: bool = False


async def send_load(port: int, clients: int, stop: asyncio.Event, spans_per_request: int = 20,
                    result: LoadResult | None = None, pause_s: float = 0.0, first_client: int = 1) -> LoadResult:
    """Clients send until `stop` is set or the collector goes away; only 200s count as acknowledged.
    A refused request (429/503) is not retried: its spans are simply never acknowledged. Span ids
    derive from the client's number: a later load on the same store takes other numbers."""
    result = result or LoadResult()

    async def client(number: int) -> None:
        sequence = 0
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                sequence += 1
                body, ids = request_body(number, sequence, spans_per_request)
                try:
                    async with session.post(f"http://127.0.0.1:{port}/v1/traces", data=body,
                                            headers={"Content-Type": "application/x-protobuf"},
                                            timeout=aiohttp.ClientTimeout(total=30)) as answer:
                        await answer.read()
                        result.statuses[answer.status] = result.statuses.get(answer.status, 0) + 1
                        if answer.status == 200:
                            result.acknowledged.update(ids)
                        elif "Retry-After" in answer.headers:
                            result.retry_after_seen = True
                except (TimeoutError, aiohttp.ClientError):
                    return  # the collector was killed: this request's outcome is unknown
                if pause_s:
                    await asyncio.sleep(pause_s)

    await asyncio.gather(*(client(number) for number in range(first_client, first_client + clients)))
    return result


def assert_exactly_once(collector: CollectorProcess, load: LoadResult) -> None:
    rows, stored = collector.wait_stored(load.acknowledged)
    missing = load.acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged spans were lost"
    assert rows == len(stored), f"{rows - len(stored)} duplicate rows"
