"""Reading the queue's small metadata files (`meta.json`, `committed`, the `inflight.json` of
earlier versions) without trusting them: a damaged one is named in the log, renamed aside as
`<name>.damaged-<time>` for inspection, and reported as unknown so the caller recovers
conservatively instead of refusing to start or dropping records."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from spanhouse.exporters.queue.batch_journal import InflightBatch

logger = logging.getLogger(__name__)

# Sequence numbers are u64 on disk; far below that so that `committed + 1` always encodes.
MAX_SEQ: Final = 2**62


@dataclass(frozen=True, slots=True)
class MetaRead:
    queue_id: str | None  # None: missing or damaged
    damaged: bool


def set_aside(path: Path, why: str) -> Path:
    """Renames a damaged file out of the way (kept for inspection) and logs it by name."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}")
    try:
        path.rename(target)
    except OSError as error:
        logger.error("queue file %s is damaged (%s) and could not be set aside: %s", path, why, error)
        return path
    logger.warning("queue file %s is damaged (%s); set aside as %s", path, why, target.name)
    return target


def read_meta(path: Path) -> MetaRead:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return MetaRead(None, False)
    try:
        queue_id = str(orjson.loads(data)["queue_id"])
        bytes.fromhex(queue_id)
        if len(queue_id) != 32:
            raise ValueError("a queue id has 32 hex digits")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        set_aside(path, f"not a queue id: {error}")
        return MetaRead(None, True)
    return MetaRead(queue_id, False)


def read_committed(path: Path, highest_valid: int) -> tuple[int | None, bool]:
    """(the commit point, damaged). A number above `highest_valid` (the highest sequence number
    the segments can account for) cannot have been written by the queue, so it is damage too:
    trusting it would drop every record below it."""
    try:
        text = path.read_bytes().strip()
    except FileNotFoundError:
        return None, False
    if text.isdigit() and int(text) <= min(highest_valid, MAX_SEQ):
        return int(text), False
    shown = text[:40].decode("ascii", "replace")
    set_aside(path, f"{shown!r} is not a commit point of this queue (at most {highest_valid})")
    return None, True


def read_legacy_inflight(path: Path) -> list[InflightBatch]:
    """`inflight.json` of format version 1 (replaced by batches.log): read once, then removed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        batches = [InflightBatch(int(item["first"]), int(item["last"]), bool(item.get("split", False)))
                   for item in orjson.loads(data)]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        set_aside(path, f"not a list of batches: {error}")
        return []
    return batches
