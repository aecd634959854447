"""A running collector whose queue lives on a small tmpfs: a full disk is answered 503 with
Retry-After, and every span acknowledged before and after it is stored in the real engine exactly
once, also after a restart. The slow run combines a full disk, kill -9 and a ClickHouse outage
under load (its figures are in docs/queue.md)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.exporters.queue.delivery import CollectorProcess, LoadResult, assert_exactly_once, request_body, send_load
from tests.exporters.queue.small_disk import fill, tmpfs


async def post(session: aiohttp.ClientSession, port: int, number: int) -> tuple[int, dict[str, str], str, list[str]]:
    body, ids = request_body(9, number, 20)
    async with session.post(f"http://127.0.0.1:{port}/v1/traces", data=body,
                            headers={"Content-Type": "application/x-protobuf"}) as answer:
        return answer.status, dict(answer.headers), await answer.text(), ids


def health(collector: CollectorProcess) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{collector.ports['health']}/", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_a_full_disk_is_refused_with_503_and_every_acknowledged_span_is_stored_once(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "queue", 1024 * 1024) as disk:
        collector = CollectorProcess(tmp_path)
        collector.start()
        load = LoadResult()
        port = collector.ports["http"]
        async with aiohttp.ClientSession() as session:
            for number in range(5):
                status, _, _, ids = await post(session, port, number)
                assert status == 200
                load.acknowledged.update(ids)
            filler = fill(disk)
            refusal: tuple[int, dict[str, str], str] | None = None
            for number in range(5, 400):  # the segment's last page may still take a few
                status, headers, text, ids = await post(session, port, number)
                if status != 200:
                    refusal = (status, headers, text)
                    break
                load.acknowledged.update(ids)
            assert refusal is not None
            status, headers, text = refusal
            assert status == 503 and int(headers["Retry-After"]) > 0
            assert str(disk) not in text  # the reason goes to the log and the health check
            health_status, health_body = health(collector)
            assert health_status == 503 and "exporter/clickhouse" in str(health_body)
            filler.unlink()
            for number in range(400, 420):  # room again: each is taken and must be stored
                status, _, _, ids = await post(session, port, number)
                assert status == 200
                load.acknowledged.update(ids)
        assert_exactly_once(collector, load)
        deadline = time.monotonic() + 30
        while health(collector)[0] != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert health(collector)[0] == 200  # recovered by itself
        assert collector.metric("spanhouse_queue_corrupt_regions") == 0
        assert collector.stop() == 0
        collector.start()
        assert_exactly_once(collector, load)
        assert collector.metric("spanhouse_queue_corrupt_regions") == 0
        assert collector.stop() == 0


async def _phase(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.slow
async def test_full_disk_kill_9_and_a_clickhouse_outage_combined_under_load(tmp_path: Path) -> None:
    """Three rounds, each under load from 4 clients: ClickHouse goes away (the queue fills), the
    queue's disk fills up (503s), the collector is killed with -9 while the disk is still full,
    restarted on the full disk, the disk freed, ClickHouse back. In the end every acknowledged span
    is stored exactly once."""
    started = time.monotonic()
    with tmpfs(tmp_path / "queue", 4 * 1024 * 1024) as disk:
        collector = CollectorProcess(tmp_path, queue_size=100_000)
        collector.start()
        load = LoadResult()
        kills = 0
        for round_number in range(3):
            stop = asyncio.Event()
            loader = asyncio.ensure_future(send_load(collector.ports["http"], 4, stop, result=load, pause_s=0.005,
                                                     first_client=1 + 8 * round_number))
            await _phase(2.0)
            collector.fault("fail")  # ClickHouse outage: everything waits in the queue
            await _phase(2.0)
            filler = fill(disk)  # and the queue's disk fills up
            await _phase(2.0)
            await asyncio.to_thread(collector.kill)  # kill -9 with the disk full and an outage on
            kills += 1
            stop.set()
            await loader
            collector.start()  # on the full disk
            stop = asyncio.Event()
            loader = asyncio.ensure_future(send_load(collector.ports["http"], 4, stop, result=load, pause_s=0.005,
                                                     first_client=5 + 8 * round_number))
            await _phase(1.5)
            filler.unlink()  # space is back
            await _phase(1.5)
            collector.fault("")  # ClickHouse is back
            await _phase(2.0)
            stop.set()
            await loader
        assert load.statuses.get(200, 0) > 0 and load.statuses.get(503, 0) > 0 and load.retry_after_seen
        assert 500 not in load.statuses
        rows, stored = collector.wait_stored(load.acknowledged, timeout_s=120)
        missing = load.acknowledged - stored
        duplicates = rows - len(stored)
        corrupt = collector.metric("spanhouse_queue_corrupt_regions")
        print(f"\ncombined run: {time.monotonic() - started:.0f} s, {kills} kill -9, answers {load.statuses}, "
              f"{len(load.acknowledged)} spans acknowledged, {len(stored)} stored, {len(missing)} missing, "
              f"{duplicates} duplicate rows, {corrupt:.0f} corrupt regions")
        if missing:
            print(f"missing, e.g. {sorted(missing)[:3]}; queue: {collector.metric('otelcol_exporter_queue_size')} "
                  f"requests; log:\n{collector.log_tail()}")
        assert not missing, f"{len(missing)} acknowledged spans were lost"
        assert duplicates == 0, f"{duplicates} duplicate rows"
        assert collector.stop() == 0
