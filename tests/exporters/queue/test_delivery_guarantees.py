"""The promise of the persistent queue, against the real engine in a real process: a span
acknowledged to a client is stored exactly once, through kill -9 at any point, insert outages,
lost insert acknowledgements, a damaged queue file and a clean stop with a non-empty queue.

The default run takes each case once; `pytest -m slow` repeats the kills at many points."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.exporters.queue.delivery import CollectorProcess, LoadResult, assert_exactly_once, send_load


async def load_then(collector: CollectorProcess, seconds: float, action: str, clients: int = 4) -> LoadResult:
    stop = asyncio.Event()
    load = asyncio.ensure_future(send_load(collector.ports["http"], clients, stop))
    await asyncio.sleep(seconds)
    if action == "kill":
        await asyncio.to_thread(collector.kill)
    stop.set()
    return await load


async def kill_during_load(tmp_path: Path, seconds: float) -> None:
    collector = CollectorProcess(tmp_path)
    collector.start()
    load = await load_then(collector, seconds, "kill")
    assert load.acknowledged
    collector.start()
    assert_exactly_once(collector, load)
    assert collector.stop() == 0


async def test_kill_9_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    await kill_during_load(tmp_path, 2.0)


@pytest.mark.parametrize("crash_point", ["crash_before_insert", "crash_after_insert"])
async def test_crash_around_the_insert(tmp_path: Path, crash_point: str) -> None:
    """The process dies just before an insert, or just after it but before the queue learns
    of it: the restart re-sends that batch with the same token and ClickHouse keeps one copy."""
    collector = CollectorProcess(tmp_path)
    collector.start()
    stop = asyncio.Event()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 3, stop))
    await asyncio.sleep(1.0)
    collector.fault(crash_point)
    exit_code = await asyncio.to_thread(collector.wait_exit, 60)
    stop.set()
    load = await loader
    assert exit_code == 137
    collector.fault("")
    collector.start()
    assert_exactly_once(collector, load)
    assert collector.stop() == 0


async def test_lost_insert_acknowledgements_are_retried_without_duplicates(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path)
    collector.start()
    collector.fault("ack_lost")  # every insert is stored, then reported as failed
    stop = asyncio.Event()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 2, stop))
    await asyncio.sleep(1.5)
    collector.fault("")
    stop.set()
    load = await loader
    assert_exactly_once(collector, load)
    assert collector.metric("spanhouse_exporter_retries") > 0
    assert collector.stop() == 0


async def test_outage_fills_the_queue_then_429_then_drains(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, queue_size=30)
    collector.start()
    collector.fault("fail")
    stop = asyncio.Event()
    load = LoadResult()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 3, stop, result=load, pause_s=0.02))
    deadline = time.monotonic() + 30
    while load.statuses.get(429, 0) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    # Refused only once the queue was full: 30 requests were taken first.
    assert load.statuses.get(200, 0) >= 30
    assert load.statuses.get(429, 0) > 0 and load.retry_after_seen
    assert 500 not in load.statuses and 503 not in load.statuses
    while collector.metric("spanhouse_exporter_retries") == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # an insert has failed and is being retried
    collector.fault("")  # the outage ends; the queue drains and load is taken again
    await asyncio.sleep(2.0)
    accepted_before = load.statuses.get(200, 0)
    await asyncio.sleep(1.0)
    stop.set()
    await loader
    assert load.statuses.get(200, 0) > accepted_before
    assert_exactly_once(collector, load)
    assert collector.metric("spanhouse_exporter_retries") > 0
    assert collector.metric("otelcol_exporter_enqueue_failed_spans") > 0
    assert collector.stop() == 0


async def test_damaged_queue_file_is_survived(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, shutdown_timeout="5s")
    collector.start()
    collector.fault("fail")  # nothing leaves the queue
    load = await load_then(collector, 1.0, "none", clients=2)
    assert collector.stop() == 0
    segment = sorted((tmp_path / "queue" / "clickhouse").glob("*.seg"))[-1]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte in one record
    segment.write_bytes(bytes(data[:-7]))  # and a torn last record
    collector.fault("")
    collector.start()
    rows, stored = collector.wait_stored(load.acknowledged, timeout_s=20)
    # Exactly the two damaged requests (20 spans each) are lost; every other one is stored once.
    assert len(load.acknowledged - stored) == 40
    assert rows == len(stored) and stored <= load.acknowledged
    assert collector.metric("spanhouse_queue_corrupt_regions") == 2
    assert collector.stop() == 0


async def test_sigterm_with_a_full_queue_exits_in_time_and_resumes_on_start(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, shutdown_timeout="5s")
    collector.start()
    collector.fault("fail")
    load = await load_then(collector, 1.0, "none", clients=2)
    started = time.monotonic()
    assert collector.stop() == 0
    assert time.monotonic() - started < 5
    assert collector.stored_spans()[0] == 0  # nothing went out: it all waited in the queue
    collector.fault("")
    collector.start()
    assert_exactly_once(collector, load)
    assert collector.stop() == 0


@pytest.mark.slow
@pytest.mark.parametrize("round_number", range(10))
async def test_kill_9_at_many_points(tmp_path: Path, round_number: int) -> None:
    await kill_during_load(tmp_path, random.Random(round_number).uniform(0.3, 6.0))


@pytest.mark.slow
async def test_thirty_second_outage_under_load(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, queue_size=2000)
    collector.start()
    stop = asyncio.Event()
    load = LoadResult()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 4, stop, result=load, pause_s=0.01))
    await asyncio.sleep(2)
    collector.fault("fail")
    timer = threading.Timer(30, collector.fault, args=("",))
    timer.start()
    await asyncio.sleep(40)
    stop.set()
    await loader
    timer.join()
    assert load.statuses.get(200, 0) > 0
    assert_exactly_once(collector, load)
    assert collector.metric("spanhouse_exporter_retries") > 0
    assert collector.stop() == 0


async def test_sigterm_under_load_keeps_every_acknowledged_span(tmp_path: Path) -> None:
    """A clean stop in the middle of load: every acknowledged span is stored exactly once,
    drained on the way out or sent first after the restart."""
    collector = CollectorProcess(tmp_path)
    collector.start()
    stop = asyncio.Event()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 4, stop))
    await asyncio.sleep(1.5)
    assert await asyncio.to_thread(collector.stop) == 0
    stop.set()
    load = await loader
    assert load.acknowledged
    collector.start()
    assert_exactly_once(collector, load)
    assert collector.stop() == 0


async def test_conversion_workers_killed_under_load_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """kill -9 of the clickhouse exporter's conversion worker, three times while spans arrive:
    the batch it was converting fails as retryable, a new worker takes it, and every
    acknowledged span is stored once, without restarting the collector."""
    collector = CollectorProcess(tmp_path)
    collector.start()
    assert collector.process is not None
    stop = asyncio.Event()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 3, stop))
    killed = 0
    for _ in range(3):
        await asyncio.sleep(0.7)
        for worker in child_pids(collector.process.pid):
            os.kill(worker, signal.SIGKILL)
            killed += 1
    await asyncio.sleep(1.0)
    stop.set()
    load = await loader
    assert killed >= 3 and load.acknowledged
    assert_exactly_once(collector, load)
    assert collector.metric("spanhouse_exporter_retries") > 0
    assert collector.stop() == 0


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(child) for child in (task / "children").read_text().split())
    return children


async def test_damaged_queue_metadata_is_survived_without_loss_or_duplicates(tmp_path: Path) -> None:
    """`committed` and `meta.json` overwritten with garbage while stored records are still in the
    segment (the issue's case: 170 rows for 90 spans): the collector starts, names the files, and
    stores every acknowledged span exactly once."""
    collector = CollectorProcess(tmp_path)
    collector.start()
    load = await load_then(collector, 1.0, "none", clients=2)
    assert_exactly_once(collector, load)  # stored, yet still in the (only) segment
    assert collector.stop() == 0
    queue = tmp_path / "queue" / "clickhouse"
    (queue / "committed").write_text("garbage")
    (queue / "meta.json").write_text("{not json")
    collector.start()
    collector.fault("fail")  # a later outage: the new requests wait in the queue
    stop = asyncio.Event()
    loader = asyncio.ensure_future(send_load(collector.ports["http"], 2, stop, first_client=3))
    await asyncio.sleep(0.5)
    stop.set()
    later = await loader
    assert later.acknowledged and not later.acknowledged & load.acknowledged
    collector.fault("")
    load.acknowledged |= later.acknowledged
    assert_exactly_once(collector, load)
    assert collector.stop() == 0
    log = collector.log_path.read_text()
    assert "committed is damaged" in log and "meta.json is damaged" in log
    assert list(queue.glob("committed.damaged-*")) and list(queue.glob("meta.json.damaged-*"))
