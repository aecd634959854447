"""The details of error answers, logged under their request id at a bounded rate: a flood of
failing requests costs a few log lines a minute per kind of failure, and a count."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

logger = logging.getLogger("spanhouse.errors")

# Per kind of failure (its class and its cause's): a burst of lines, then one every interval,
# each telling how many like it were not logged since the previous one.
LOG_BURST: Final = 5
LOG_INTERVAL_S: Final = 10.0
# Kinds are exception class names, a bounded set; past this many, all share one bucket.
MAX_KINDS: Final = 256
_DETAIL_CHARS: Final = 2000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float
    suppressed: int = 0


class ErrorDetailLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # classify may run in worker threads (gRPC, to_thread)

    def log(self, request_id: str, status: int, error: BaseException, with_traceback: bool = False) -> bool:
        """Logs `error` under `request_id` unless its kind is over its rate; True if logged.
        `with_traceback` for what nobody classified: a defect to fix, not an outage."""
        cause = error.__cause__ or error.__context__
        kind = f"{type(error).__name__}:{type(cause).__name__ if cause is not None else ''}"
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(kind)
            if bucket is None:
                if len(self._buckets) >= MAX_KINDS:
                    kind = "other"
                bucket = self._buckets.setdefault(kind, _Bucket(float(LOG_BURST), now))
            bucket.tokens = min(float(LOG_BURST), bucket.tokens + (now - bucket.updated_s) / LOG_INTERVAL_S)
            bucket.updated_s = now
            if bucket.tokens < 1.0:
                bucket.suppressed += 1
                return False
            bucket.tokens -= 1.0
            suppressed, bucket.suppressed = bucket.suppressed, 0
        detail = _describe(error)
        more = f" ({suppressed} more like it not logged since the last)" if suppressed else ""
        logger.warning("request %s answered %d: %s%s", request_id, status, detail, more,
                       exc_info=error if with_traceback else None)
        return True


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None and str(cause) not in text:
        text += f" (caused by {type(cause).__name__}: {cause})"
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "..."


_LOG = ErrorDetailLog()


def log_error_detail(request_id: str, status: int, error: BaseException, with_traceback: bool = False) -> bool:
    return _LOG.log(request_id, status, error, with_traceback)
