"""Recognising a client's retry: a request re-sent unchanged by the same tenant within a window
is answered with the first one's success answer and not stored again (docs/retries.md)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final

from aiohttp import web

from spanhouse.collector.core.config.types import BYTE_SIZE, DURATION
from spanhouse.collector.core.metrics import Counter, Metrics
from spanhouse.collector.server.retry_store import FLUSH_INTERVAL_S, RetryStore, StoredAnswer

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S: Final = 600.0
DEFAULT_MAX_ENTRIES: Final = 100_000
# OTLP answers are a few bytes; a vendor's success answer is small JSON. A larger one is not
# remembered (its repeat is processed again), so that the window's memory stays bounded.
DEFAULT_MAX_ANSWER_BYTES: Final = 4096
# The adapter receivers' state_directory default: one directory of small receiver state.
DEFAULT_DIRECTORY: Final = "./data/state"
# Headers left out of a vendor request's key: transport details a client may change between
# two attempts of the same request (OpenAI's SDKs count attempts in x-stainless-retry-count),
# and the credential (the tenant is in the key instead).
UNKEYED_HEADERS: Final = frozenset({
    "authorization", "content-length", "content-encoding", "transfer-encoding", "accept", "accept-encoding",
    "connection", "keep-alive", "host", "user-agent", "date", "te", "expect", "traceparent", "tracestate",
    "baggage", "x-request-id", "x-forwarded-for", "x-real-ip", "x-stainless-retry-count"})
# Headers of an answer that aiohttp writes itself when it is sent again.
_UNSTORED_ANSWER_HEADERS: Final = frozenset({"content-length", "date", "server", "transfer-encoding", "x-request-id"})
MAX_SHARED_HEADER_SETS: Final = 1024
_SHARED_HEADERS: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}


@dataclass(frozen=True, slots=True)
class RetryDedupConfig:
    """`retry_dedup:` of a receiver. A window of 0 turns it off."""

    window: Annotated[float, DURATION] = field(default=DEFAULT_WINDOW_S, metadata={
        "description": "How long after its success a request re-sent unchanged by the same tenant is "
                       "recognised, answered as the first time and not stored again; 0 turns this off."})
    max_entries: int = field(default=DEFAULT_MAX_ENTRIES, metadata={
        "description": "Requests remembered at most (about 320 bytes each plus the answer body); past it the oldest "
                       "are forgotten."})
    max_answer_size: Annotated[int, BYTE_SIZE] = field(default=DEFAULT_MAX_ANSWER_BYTES, metadata={
        "description": "Largest success answer remembered; a request with a larger answer is not recognised."})
    persist: bool = field(default=True, metadata={
        "description": "Keep the window in a file under `directory`, so that it survives a restart "
                       "(false: in memory only)."})
    directory: str = field(default=DEFAULT_DIRECTORY, metadata={
        "description": "Where the window's file (<receiver>.retries.sqlite3) is kept, relative to the config file."})

    @property
    def enabled(self) -> bool:
        return self.window > 0 and self.max_entries > 0

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not math.isfinite(self.window) or self.window < 0:
            problems.append(("window", "must be 0 (off) or a positive duration"))
        if self.max_entries < 0:
            problems.append(("max_entries", "must be 0 (off) or greater"))
        if self.max_answer_size < 0:
            problems.append(("max_answer_size", "must be 0 or greater"))
        return problems


@dataclass(frozen=True, slots=True)
class Answer:
    """A success answer as it was sent, to send again; `keep` False: not to be remembered."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    keep: bool = True

    @classmethod
    def of(cls, response: web.Response) -> Answer:
        body = b"" if response.body is None else response.body
        if not isinstance(body, bytes):  # a streamed or file payload is not replayed
            return cls(response.status, b"", keep=False)
        headers = tuple((name, value) for name, value in response.headers.items()
                        if name.lower() not in _UNSTORED_ANSWER_HEADERS)
        # Answers of a route carry the same few headers: one copy of them for all (~120 bytes each).
        if len(_SHARED_HEADERS) < MAX_SHARED_HEADER_SETS:
            headers = _SHARED_HEADERS.setdefault(headers, headers)
        return cls(response.status, body, headers)

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=self.body, headers=self.headers)


def request_key(tenant: str, route: str, body: bytes, extra: Iterable[str] = ()) -> bytes:
    """SHA-256 of the tenant, the route, `extra` (a content type, keyed headers) and the decoded
    body: 32 bytes, ~0.6 ms per MiB of body (measured). Parts are length-prefixed, so no two
    different requests share their bytes."""
    digest = hashlib.sha256()
    for part in (tenant, route, *extra):
        encoded = part.encode("utf-8", "surrogateescape")
        digest.update(len(encoded).to_bytes(4, "big"))
        digest.update(encoded)
    digest.update(body)
    return digest.digest()


def keyed_headers(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The headers of a vendor request that belong in its key (an Idempotency-Key, a signature):
    all but UNKEYED_HEADERS, by name, as `name: value` strings."""
    return sorted(f"{name.lower()}: {value}" for name, value in headers if name.lower() not in UNKEYED_HEADERS)


class RetryDedup:
    """One receiver's window of recent success answers by request key, with the requests of
    unknown outcome being processed; kept in `store` too when given. Runs on the event loop."""

    def __init__(self, config: RetryDedupConfig, metrics: Metrics | None = None, receiver: str = "",
                 clock: Callable[[], float] = time.time, store: RetryStore | None = None) -> None:
        self._config = config
        # Wall-clock seconds: expiries are written to the file and read back after a restart.
        self._clock = clock
        # key -> (expiry on `clock`, answer), in insertion order, which is expiry order.
        self._answers: OrderedDict[bytes, tuple[float, Answer]] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[None]] = {}
        self._store = store if config.enabled else None
        self._unwritten: list[StoredAnswer] = []
        self._writer: asyncio.Task[None] | None = None
        self._write_failed = False
        self.repeats = Counter() if metrics is None else metrics.counter(
            "spanhouse_receiver_repeated_requests",
            "Requests recognised as a retry of one already stored, answered without storing them again",
            receiver=receiver)

    @classmethod
    def for_receiver(cls, config: RetryDedupConfig, config_dir: Path, receiver: str,
                     metrics: Metrics | None = None) -> RetryDedup:
        store = None
        if config.persist:
            store = RetryStore(config_dir / config.directory / (receiver.replace("/", "_") + ".retries.sqlite3"))
        return cls(config, metrics, receiver, store=store)

    async def start(self) -> None:
        """Reads the window kept by the last run, then writes new successes behind the answers."""
        store = self._store
        if store is None or self._writer is not None:
            return
        now = self._clock()
        try:
            loaded = await asyncio.to_thread(store.open, now, self._config.max_entries)
        except (OSError, sqlite3.Error) as error:
            # The window is an optimisation of the retry path, never a reason not to start.
            logger.error("retry window file %s cannot be opened (%s): the window is kept in memory only",
                         store.path, error)
            self._store = None
            return
        for key, expires_at, status, body, headers in loaded:
            # A window shortened since the last run applies to what it wrote too (and keeps
            # insertion order the expiry order).
            self._answers[key] = (min(expires_at, now + self._config.window), Answer(status, body, headers))
        self._writer = asyncio.get_running_loop().create_task(self._write_behind())

    async def shutdown(self) -> None:
        """Writes what is left and closes the file; safe to call twice or before start."""
        writer, self._writer = self._writer, None
        if writer is None or self._store is None:
            return
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await self._write()
        self._store.close()

    async def _write_behind(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self._write()

    async def _write(self) -> None:
        if not self._unwritten or self._store is None:
            return
        batch, self._unwritten = self._unwritten, []
        oldest = next(iter(self._answers.values()))[0] if self._answers else self._clock()
        try:
            await asyncio.to_thread(self._store.write, batch, max(oldest, self._clock()))
        except (OSError, sqlite3.Error) as error:
            # The window in memory still holds: only a restart would forget these answers.
            if not self._write_failed:
                logger.warning("retry window file %s: cannot write (%s); the window is kept in memory "
                               "until writing works again", self._store.path, error)
            self._write_failed = True
            return
        if self._write_failed:
            logger.info("retry window file %s: writing again", self._store.path)
            self._write_failed = False

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    def __len__(self) -> int:
        return len(self._answers)

    async def once(self, key: bytes | None, produce: Callable[[], Awaitable[Answer]]) -> Answer:
        """The answer of `produce`, unless a request with `key` succeeded within the window: then
        its answer. While one is being processed, a repeat waits for its outcome: its success
        answer, or, when it failed, the repeat is processed itself. None: no deduplication."""
        if key is None or not self._config.enabled:
            return await produce()
        while True:
            remembered = self._remembered(key)
            if remembered is not None:
                self.repeats.add(1)
                return remembered
            pending = self._in_flight.get(key)
            if pending is None:
                break
            await asyncio.wait((pending,))  # not `await pending`: a cancelled waiter must not cancel it
        # Checked and claimed in one step of the loop (no await between): one request at a time.
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        try:
            answer = await produce()
            # Only a success is remembered: a refused request (429/503) that is retried must run.
            if answer.keep and 200 <= answer.status < 300 and len(answer.body) <= self._config.max_answer_size:
                self._remember(key, answer)
            return answer
        finally:
            del self._in_flight[key]
            done.set_result(None)

    async def once_http(self, key: bytes | None, produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """`once` for an aiohttp handler: the first answer is sent as produced, a repeat gets a copy."""
        if key is None or not self._config.enabled:
            return await produce()
        produced: list[web.Response] = []

        async def produce_answer() -> Answer:
            response = await produce()
            produced.append(response)
            return Answer.of(response)
        answer = await self.once(key, produce_answer)
        return produced[0] if produced else answer.response()

    def _remembered(self, key: bytes) -> Answer | None:
        entry = self._answers.get(key)
        if entry is None:
            return None
        expires_at, answer = entry
        if expires_at <= self._clock():
            del self._answers[key]
            return None
        return answer

    def _remember(self, key: bytes, answer: Answer) -> None:
        now = self._clock()
        answers = self._answers
        answers.pop(key, None)
        expires_at = now + self._config.window
        answers[key] = (expires_at, answer)
        if self._store is not None:
            self._unwritten.append((key, expires_at, answer.status, answer.body, answer.headers))
        # The oldest entries expire first: drop them, and any beyond the bound.
        while answers:
            oldest_key, (expires_at, _) = next(iter(answers.items()))
            if expires_at > now and len(answers) <= self._config.max_entries:
                break
            del answers[oldest_key]
