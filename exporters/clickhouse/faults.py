"""Fault injection for the exporter's inserts, for tests of outages and ambiguous failures.

Read only when the environment variable SPANHOUSE_FAULTS_FILE names a file; the file holds one
word and can be rewritten while the collector runs, so a test can start and end an outage:
    fail                 inserts fail with a retryable (network-like) error
    permanent            inserts fail as bad data would
    hang                 inserts block until the word changes, then fail as a timeout
    ack_lost             the insert is stored, then reported as failed (a lost acknowledgement)
    crash_before_insert  the process exits at once (as kill -9) just before an insert
    crash_after_insert   the process exits at once just after an insert, before it is confirmed
anything else (or an empty file) means no fault."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

FAULTS_FILE_ENV: Final = "SPANHOUSE_FAULTS_FILE"
CRASH_EXIT_CODE: Final = 137


class InjectedFault(ConnectionError):
    """A retryable failure made on purpose (classified like a network error)."""


class InjectedPermanentFault(ValueError):
    """A bad-data failure made on purpose."""


class FaultInjector:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stamp: tuple[float, int] | None = None
        self._mode = ""

    @classmethod
    def from_environment(cls) -> FaultInjector:
        value = os.environ.get(FAULTS_FILE_ENV)
        return cls(Path(value) if value else None)

    @property
    def active(self) -> bool:
        return self._path is not None

    def mode(self) -> str:
        if self._path is None:
            return ""
        try:
            stat = self._path.stat()
        except OSError:
            return ""
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            self._mode = self._path.read_text().strip()
        return self._mode

    def before_insert(self, timeout_s: float) -> None:
        """Blocking; runs in the insert thread."""
        mode = self.mode()
        if mode == "fail":
            raise InjectedFault("injected fault: insert failed")
        if mode == "permanent":
            raise InjectedPermanentFault("injected fault: insert refused as bad data")
        if mode == "hang":
            deadline = time.monotonic() + timeout_s
            while self.mode() == "hang" and time.monotonic() < deadline:
                time.sleep(0.05)
            raise TimeoutError("injected fault: insert timed out")
        if mode == "crash_before_insert":
            os._exit(CRASH_EXIT_CODE)

    def after_insert(self) -> None:
        mode = self.mode()
        if mode == "ack_lost":
            raise TimeoutError("injected fault: insert stored but its acknowledgement was lost")
        if mode == "crash_after_insert":
            os._exit(CRASH_EXIT_CODE)
