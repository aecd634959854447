"""The file that keeps a receiver's retry window across restarts: SQLite (standard library) in WAL
mode, written behind the answers (after the acknowledgement, in a thread, every FLUSH_INTERVAL_S)
and read once at start (docs/retries.md)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import orjson

logger = logging.getLogger(__name__)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS answers (
    key BLOB PRIMARY KEY,
    expires_at REAL NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    headers BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS answers_by_expiry ON answers (expires_at);
"""
# How long a success waits before it is written: at most this much of the window is lost when
# the process is killed (a clean shutdown writes everything).
FLUSH_INTERVAL_S: Final = 0.1

# key, expiry (Unix seconds), status, body, headers
StoredAnswer = tuple[bytes, float, int, bytes, tuple[tuple[str, str], ...]]


class RetryStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def open(self, now_s: float, max_entries: int) -> list[StoredAnswer]:
        """Opens the file and returns the answers still within their window, oldest first (at most
        `max_entries`, the newest). A file that cannot be read is set aside and started afresh:
        the window is an optimisation of the retry path, never a reason not to start."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._open(now_s, max_entries)
        except sqlite3.DatabaseError as error:
            aside = self._path.with_name(self._path.name + ".damaged")
            logger.error("retry window file %s cannot be read (%s): set aside as %s, starting empty",
                         self._path, error, aside)
            self.close()
            self._path.replace(aside)
            return self._open(now_s, max_entries)

    def _open(self, now_s: float, max_entries: int) -> list[StoredAnswer]:
        connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._connection = connection
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; an OS crash may lose the last writes,
        # which only shortens the window.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
        connection.execute("DELETE FROM answers WHERE expires_at <= ?", (now_s,))
        rows = connection.execute(
            "SELECT key, expires_at, status, body, headers FROM answers ORDER BY expires_at DESC LIMIT ?",
            (max_entries,)).fetchall()
        loaded: list[StoredAnswer] = []
        for key, expires_at, status, body, headers in reversed(rows):
            pairs = tuple((str(name), str(value)) for name, value in orjson.loads(headers))
            loaded.append((bytes(key), float(expires_at), int(status), bytes(body), pairs))
        return loaded

    def write(self, answers: Sequence[StoredAnswer], forget_before_s: float) -> None:
        """Adds `answers` and forgets those expiring before `forget_before_s`: the expired ones and
        those the window's bound pushed out of memory (one range of the expiry index); runs in a thread."""
        rows = [(key, expires_at, status, body, orjson.dumps(headers))
                for key, expires_at, status, body, headers in answers]
        with self._lock:
            db = self._connection
            if db is None:
                return
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO answers (key, expires_at, status, body, headers) "
                           "VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("DELETE FROM answers WHERE expires_at < ?", (forget_before_s,))
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
