"""The small durable key-value state adapter receivers keep: idempotency keys, ids already
stored, agent records, usage counters. SQLite (standard library) in WAL mode, one file per
receiver; reads are microseconds and run inline, writes run in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from spanhouse.collector.core.adapter_api import StateWrite

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS state (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""
# SQLite allows 32766 bound parameters; stay well below it per query.
MAX_KEYS_PER_QUERY: Final = 500


class StateStore:
    def __init__(self, path: Path, default_ttl_s: float = 0.0) -> None:
        self._path = path
        self._default_ttl_s = default_ttl_s
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; only an OS crash may lose the last writes.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(SCHEMA)
        connection.execute("DELETE FROM state WHERE expires_at > 0 AND expires_at < ?", (time.time(),))
        self._connection = connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("state store is not open")
        return self._connection

    def get(self, namespace: str, key: str) -> bytes | None:
        with self._lock:
            row = self._db().execute(
                "SELECT value FROM state WHERE namespace = ? AND key = ? AND (expires_at = 0 OR expires_at >= ?)",
                (namespace, key, time.time())).fetchone()
        return bytes(row[0]) if row else None

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        now = time.time()
        unique = list(dict.fromkeys(keys))
        with self._lock:
            db = self._db()
            for start in range(0, len(unique), MAX_KEYS_PER_QUERY):
                chunk = unique[start:start + MAX_KEYS_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, value FROM state WHERE namespace = ? AND key IN ({marks}) "
                    "AND (expires_at = 0 OR expires_at >= ?)", (namespace, *chunk, now)).fetchall()
                found.update((str(key), bytes(value)) for key, value in rows)
        return found

    def write(self, writes: Sequence[StateWrite]) -> None:
        now = time.time()
        rows = []
        for item in writes:
            ttl = self._default_ttl_s if item.ttl_s is None else item.ttl_s
            rows.append((item.namespace, item.key, item.value, now + ttl if ttl > 0 else 0.0))
        with self._lock:
            db = self._db()
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO state (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)",
                           rows)
            db.execute("COMMIT")

    async def apply(self, writes: Sequence[StateWrite]) -> None:
        if writes:
            await asyncio.to_thread(self.write, writes)
