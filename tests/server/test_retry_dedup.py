"""collector/server/retry_dedup.py on its own: the window, the bound, what is remembered
(successes only), simultaneous repeats, and the memory an entry costs."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from spanhouse.collector.server.retry_dedup import Answer, RetryDedup, RetryDedupConfig, keyed_headers, request_key
from spanhouse.collector.server.retry_store import RetryStore
from tests.exporters.queue.small_disk import fill, tmpfs
from tests.support.doubles import ManualClock


class Producer:
    """Counts the requests processed; answers `status` after an optional wait."""

    def __init__(self, status: int = 200, gate: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.status = status
        self.gate = gate

    async def __call__(self) -> Answer:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return Answer(self.status, f"answer {self.calls}".encode())


async def test_a_repeat_within_the_window_gets_the_first_answer_and_after_it_runs_again() -> None:
    clock = ManualClock()
    dedup = RetryDedup(RetryDedupConfig(window=60.0), clock=clock)
    produce = Producer()
    key = request_key("acme", "/v1/traces", b"body")
    assert (await dedup.once(key, produce)).body == b"answer 1"
    clock.now += 59.9
    assert (await dedup.once(key, produce)).body == b"answer 1"
    assert (produce.calls, dedup.repeats.value) == (1, 1)
    clock.now += 0.2  # 60.1 s after the first success: outside the window
    assert (await dedup.once(key, produce)).body == b"answer 2"
    assert produce.calls == 2


async def test_the_key_separates_tenants_routes_extras_and_bodies() -> None:
    keys = {request_key("acme", "/v1/traces", b"body"), request_key("beta", "/v1/traces", b"body"),
            request_key("acme", "/api/traces", b"body"), request_key("acme", "/v1/traces", b"body2"),
            request_key("acme", "/v1/traces", b"body", ("application/json",)),
            request_key("acme", "/v1/trace", b"sbody")}  # parts are length-prefixed
    assert len(keys) == 6
    assert request_key("acme", "/v1/traces", b"body") == request_key("acme", "/v1/traces", b"body")
    assert len(request_key("acme", "/v1/traces", b"body")) == 32


def test_keyed_headers_leave_out_transport_and_credentials() -> None:
    headers = [("Authorization", "Bearer x"), ("Content-Length", "12"), ("User-Agent", "sdk/1"),
               ("Idempotency-Key", "run-1"), ("Content-Type", "application/json"), ("X-Stainless-Retry-Count", "1")]
    assert keyed_headers(headers) == ["content-type: application/json", "idempotency-key: run-1"]


@pytest.mark.parametrize("status", [400, 429, 503])
async def test_a_refusal_is_not_remembered(status: int) -> None:
    dedup = RetryDedup(RetryDedupConfig())
    refused, accepted = Producer(status), Producer(200)
    key = request_key("acme", "/v1/traces", b"body")
    assert (await dedup.once(key, refused)).status == status
    assert (await dedup.once(key, accepted)).status == 200
    assert (refused.calls, accepted.calls) == (1, 1)


async def test_an_exception_is_not_remembered_and_a_waiting_repeat_runs_itself() -> None:
    dedup = RetryDedup(RetryDedupConfig())
    key = request_key("acme", "grpc", b"body")
    gate = asyncio.Event()

    async def fails() -> Answer:
        await gate.wait()
        raise RuntimeError("the pipeline refused")
    produce = Producer()
    first = asyncio.create_task(dedup.once(key, fails))
    await asyncio.sleep(0)
    second = asyncio.create_task(dedup.once(key, produce))
    await asyncio.sleep(0.01)
    assert produce.calls == 0, "the repeat waits for the first request's outcome"
    gate.set()
    with pytest.raises(RuntimeError):
        await first
    assert (await second).body == b"answer 1"
    assert produce.calls == 1


async def test_simultaneous_repeats_are_processed_once() -> None:
    dedup = RetryDedup(RetryDedupConfig())
    gate = asyncio.Event()
    produce = Producer(gate=gate)
    key = request_key("acme", "/v1/traces", b"body")
    tasks = [asyncio.create_task(dedup.once(key, produce)) for _ in range(8)]
    await asyncio.sleep(0.01)
    gate.set()
    answers = await asyncio.gather(*tasks)
    assert [answer.body for answer in answers] == [b"answer 1"] * 8
    assert (produce.calls, dedup.repeats.value) == (1, 7)


async def test_the_bound_forgets_the_oldest_and_large_answers_are_not_kept() -> None:
    dedup = RetryDedup(RetryDedupConfig(max_entries=3, max_answer_size=10))
    produce = Producer()
    for number in range(5):
        await dedup.once(request_key("acme", "/v1/traces", bytes([number])), produce)
    assert len(dedup) == 3
    await dedup.once(request_key("acme", "/v1/traces", bytes([0])), produce)  # forgotten: runs again
    assert produce.calls == 6

    async def large() -> Answer:
        return Answer(200, b"x" * 11)
    await dedup.once(request_key("acme", "/v1/traces", b"large"), large)
    assert request_key("acme", "/v1/traces", b"large") not in dedup._answers


async def test_a_window_of_zero_turns_it_off() -> None:
    dedup = RetryDedup(RetryDedupConfig(window=0))
    produce = Producer()
    key = request_key("acme", "/v1/traces", b"body")
    await dedup.once(key, produce)
    await dedup.once(key, produce)
    assert produce.calls == 2 and not dedup.enabled


def test_validate_names_the_bad_settings() -> None:
    assert RetryDedupConfig(window=-1, max_entries=-1, max_answer_size=-1).validate() == [
        ("window", "must be 0 (off) or a positive duration"), ("max_entries", "must be 0 (off) or greater"),
        ("max_answer_size", "must be 0 or greater")]


async def test_an_entry_costs_under_400_bytes_with_an_otlp_answer() -> None:
    """The figure docs/retries.md gives: key, answer and index entry of an OTLP/HTTP success."""
    dedup = RetryDedup(RetryDedupConfig(max_entries=20_000))
    response = web.Response(body=b"", content_type="application/x-protobuf")

    async def produce() -> web.Response:
        return web.Response(body=response.body, headers=response.headers)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number in range(20_000):
        await dedup.once_http(request_key("acme", "/v1/traces", number.to_bytes(4, "big")), produce)
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / 20_000
    tracemalloc.stop()
    assert len(dedup) == 20_000
    assert per_entry < 400, per_entry


async def test_the_window_survives_a_restart_in_its_file(tmp_path: Path) -> None:
    clock = ManualClock()
    config = RetryDedupConfig(window=60.0)
    first_run = RetryDedup(config, clock=clock, store=RetryStore(tmp_path / "otlp.retries.sqlite3"))
    await first_run.start()
    produce = Producer()
    kept, expiring = request_key("acme", "/v1/traces", b"kept"), request_key("acme", "/v1/traces", b"expiring")
    await first_run.once(expiring, produce)
    clock.now += 30
    await first_run.once(kept, produce)
    await first_run.shutdown()
    await first_run.shutdown()  # twice is safe

    clock.now += 31  # `expiring` is out of its window, `kept` is not
    second_run = RetryDedup(config, clock=clock, store=RetryStore(tmp_path / "otlp.retries.sqlite3"))
    await second_run.start()
    assert len(second_run) == 1
    assert (await second_run.once(kept, produce)).body == b"answer 2"
    assert produce.calls == 2
    assert (await second_run.once(expiring, produce)).body == b"answer 3"
    await second_run.shutdown()


async def test_a_damaged_window_file_is_set_aside_and_the_receiver_starts(tmp_path: Path) -> None:
    path = tmp_path / "otlp.retries.sqlite3"
    path.write_bytes(b"not a database" * 100)
    dedup = RetryDedup(RetryDedupConfig(), store=RetryStore(path))
    await dedup.start()
    await dedup.once(request_key("acme", "/v1/traces", b"body"), Producer())
    await dedup.shutdown()
    assert (tmp_path / "otlp.retries.sqlite3.damaged").read_bytes().startswith(b"not a database")
    restarted = RetryDedup(RetryDedupConfig(), store=RetryStore(path))
    await restarted.start()
    assert len(restarted) == 1
    await restarted.shutdown()


async def test_the_file_keeps_no_more_than_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "otlp.retries.sqlite3"
    clock = ManualClock()
    dedup = RetryDedup(RetryDedupConfig(max_entries=2), clock=clock, store=RetryStore(path))
    await dedup.start()
    produce = Producer()
    for number in range(5):
        clock.now += 1
        await dedup.once(request_key("acme", "/v1/traces", bytes([number])), produce)
        await asyncio.sleep(0.15)  # one write behind each answer
    await dedup.shutdown()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count() FROM answers").fetchone() == (2,)
    restarted = RetryDedup(RetryDedupConfig(max_entries=2), clock=clock, store=RetryStore(path))
    await restarted.start()
    assert (await restarted.once(request_key("acme", "/v1/traces", bytes([4])), produce)).body == b"answer 5"
    assert (await restarted.once(request_key("acme", "/v1/traces", bytes([0])), produce)).body == b"answer 6"
    await restarted.shutdown()


async def test_a_window_file_that_cannot_be_opened_leaves_the_window_in_memory(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    dedup = RetryDedup(RetryDedupConfig(), store=RetryStore(tmp_path / "not-a-directory" / "otlp.retries.sqlite3"))
    await dedup.start()
    produce = Producer()
    key = request_key("acme", "/v1/traces", b"body")
    await dedup.once(key, produce)
    await dedup.once(key, produce)
    assert produce.calls == 1
    await dedup.shutdown()


async def test_a_full_disk_under_the_window_file_costs_nothing_but_the_file(tmp_path: Path, caplog: Any) -> None:
    """On a real 256 KiB tmpfs: once the file cannot grow, writes fail (logged once) and the
    window keeps working in memory; when space returns, writing resumes."""
    caplog.set_level(logging.INFO, "spanhouse.collector.server.retry_dedup")
    with tmpfs(tmp_path / "small", 256 * 1024) as directory:
        dedup = RetryDedup(RetryDedupConfig(), store=RetryStore(directory / "otlp.retries.sqlite3"))
        await dedup.start()
        filler = fill(directory)
        produce = Producer()

        async def large() -> Answer:
            produce.calls += 1
            return Answer(200, b"x" * 4000)
        keys = [request_key("acme", "/v1/traces", number.to_bytes(4, "big")) for number in range(40)]
        for key in keys:
            await dedup.once(key, large)
        await asyncio.sleep(0.3)
        assert "cannot write" in caplog.text and caplog.text.count("cannot write") == 1
        for key in keys:
            await dedup.once(key, large)
        assert produce.calls == 40, "repeats are recognised from memory"
        filler.unlink()
        await dedup.once(request_key("acme", "/v1/traces", b"after"), large)
        await asyncio.sleep(0.3)
        assert "writing again" in caplog.text
        await dedup.shutdown()
