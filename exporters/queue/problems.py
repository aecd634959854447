"""What of a sending queue is degraded now (its disk, its dispatcher), reported to the service's
status board for the health check, and the retry loop of the queue's own file writes."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable
from typing import Any, Final, TypeVar

from spanhouse.collector.core.metrics import Counter
from spanhouse.collector.core.status import StatusBoard
from spanhouse.exporters.queue.persistent_queue import PersistentQueue

logger = logging.getLogger(__name__)

# Writes of the queue's own files (batches.log, committed, dead letter) that fail are retried
# after these waits, doubling: short enough to resume soon after space comes back.
PERSIST_RETRY_INITIAL_S: Final = 0.1
PERSIST_RETRY_MAX_S: Final = 5.0

T = TypeVar("T")


def describe(error: OSError) -> str:
    """The error without its file name: answers and the health check show no paths."""
    return os.strerror(error.errno) if error.errno else str(error)


class QueueProblems:
    def __init__(self, status: StatusBoard, component: str, exporter_id: str, queue: PersistentQueue) -> None:
        self._status = status
        self._component = component
        self._id = exporter_id
        self._queue = queue
        self._problems: dict[str, str] = {}  # reason by where
        self.write_errors = Counter()  # replaced by the registered counter on start

    def __contains__(self, where: str) -> bool:
        return where in self._problems

    def __bool__(self) -> bool:
        return bool(self._problems)

    def set(self, where: str, reason: str | None) -> None:
        if reason is None:
            if self._problems.pop(where, None) is None:
                return
        else:
            self._problems[where] = reason
        if self._problems:
            self._status.report_degraded(self._component, "; ".join(sorted(set(self._problems.values()))))
        else:
            self._status.report_ok(self._component)

    async def persist(self, what: str, action: Callable[..., T], *args: Any) -> T:
        """Runs a blocking write of the queue's own files in a thread until it succeeds: an
        OSError (a full disk, an I/O error) is logged once, reported, and retried with backoff."""
        delay = PERSIST_RETRY_INITIAL_S
        while True:
            try:
                result = await asyncio.to_thread(action, *args)
            except OSError as error:
                self.write_errors.add()
                if error.errno == errno.ENOSPC and not self._queue.reserve.released:
                    self._queue.reserve.release()  # room for this write; requests wait meanwhile
                    continue
                reason = f"cannot write the queue's {what}: {describe(error)}"
                if self._problems.get(what) != reason:
                    logger.error("exporter %s: %s (%s); retrying until it can", self._id, reason,
                                 self._queue.directory)
                self.set(what, reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, PERSIST_RETRY_MAX_S)
                continue
            if what in self._problems:
                logger.warning("exporter %s: the queue's %s is written again", self._id, what)
                self.set(what, None)
            return result
