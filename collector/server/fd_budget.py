"""File descriptors shared out between the listeners and everything else: the process raises its
open-file soft limit to the hard limit at start, and each listener's connection cap is cut so
that all caps together leave a reserve for the queue's files, ClickHouse and gRPC's internals.

The arithmetic (docs/security.md, "Connections and file descriptors"):
    reserve    = max(MIN_RESERVED_FDS, limit // 4)
    available  = limit - open at start - reserve
    share      = available // listeners
    backlog    = share // 8, between MIN_BACKLOG and DEFAULT_ACCEPT_BACKLOG
    cap        = min(configured max_connections, max(MIN_CONNECTIONS, share - backlog))
A connection over its cap is accepted, told 503 and closed at once; asyncio accepts at most
`backlog` connections per listener in one turn of the loop before the refusals close them, so
`share - backlog` open ones plus `backlog` being refused stay within the share."""

from __future__ import annotations

import logging
import os
import resource
from dataclasses import dataclass
from typing import Any, Final

from spanhouse.collector.server.listener import DEFAULT_ACCEPT_BACKLOG

logger = logging.getLogger(__name__)

# Measured with the embedded ClickHouse: ~60 descriptors after start, a few hundred with many
# parts being merged; the queue holds 2-4 per exporter; each gRPC server ~10 of its own.
MIN_RESERVED_FDS: Final = 512
MIN_BACKLOG: Final = 8
MIN_CONNECTIONS: Final = 8


def raise_open_file_limit() -> tuple[int, int]:
    """Raises RLIMIT_NOFILE's soft limit to the hard limit; returns (soft, hard) after. A
    platform that refuses (or has no such limit) keeps what it had."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            logger.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, error)
    return soft, hard


def open_descriptors() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64  # no /proc: a fair guess for a started interpreter


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    limit: int  # the open-file soft limit
    listeners: int
    open_at_start: int

    @classmethod
    def measure(cls, listeners: int) -> ConnectionBudget:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = soft if soft != resource.RLIM_INFINITY else 1 << 20
        return cls(limit, max(1, listeners), open_descriptors())

    @property
    def reserve(self) -> int:
        return max(MIN_RESERVED_FDS, self.limit // 4)

    @property
    def share(self) -> int:
        return max(0, self.limit - self.open_at_start - self.reserve) // self.listeners

    @property
    def backlog(self) -> int:
        return max(MIN_BACKLOG, min(DEFAULT_ACCEPT_BACKLOG, self.share // 8))

    def cap(self, configured: int) -> int:
        """The connection cap of one listener configured with `configured`."""
        return min(configured, max(MIN_CONNECTIONS, self.share - self.backlog))

    def describe(self) -> str:
        return (f"open-file limit {self.limit}, {self.open_at_start} open at start, {self.reserve} reserved, "
                f"{self.listeners} listener(s): at most {self.cap(1 << 30)} connections each")


UNLIMITED: Final = ConnectionBudget(1 << 30, 1, 0)


def budget_of(host: Any) -> ConnectionBudget:
    """The running service's budget; one that cuts nothing for hosts without one (tests)."""
    budget = getattr(host, "connection_budget", None)
    return budget if isinstance(budget, ConnectionBudget) else UNLIMITED
