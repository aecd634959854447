"""Component status: a small board where a running component reports "degraded: <reason>" and
clears it once it recovered, read by the health check (the Go collector's componentstatus)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Degraded:
    """One component's current problem, as reported; `since` is wall-clock seconds."""

    component: str  # "<kind>/<id>", e.g. "exporter/clickhouse"
    reason: str  # short, for operators: no file paths, endpoints or credentials
    since: float


class StatusBoard:
    """Shared by every component of one service (handed out in CreateSettings). Thread-safe:
    components may report from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._degraded: dict[str, Degraded] = {}

    def report_degraded(self, component: str, reason: str) -> None:
        with self._lock:
            current = self._degraded.get(component)
            if current is None or current.reason != reason:
                since = current.since if current is not None else time.time()
                self._degraded[component] = Degraded(component, reason, since)

    def report_ok(self, component: str) -> None:
        with self._lock:
            self._degraded.pop(component, None)

    def degraded(self) -> list[Degraded]:
        with self._lock:
            return sorted(self._degraded.values(), key=lambda item: item.component)
