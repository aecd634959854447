"""The dead-letter files: requests ClickHouse refused (or that ran out of retries), kept with
their error. Written all or nothing, so a full disk never leaves a torn record behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson

from spanhouse.exporters.queue.record_log import Record, append_or_rollback, encode_record


def write_dead_letter(directory: Path, records: list[Record], error: str) -> None:
    """Blocking. On OSError both files are as they were, and the caller may simply retry."""
    directory.mkdir(exist_ok=True)
    data = b"".join(encode_record(record.seq, record.payload, record.spans) for record in records)
    log = b"".join(orjson.dumps({"seq": record.seq, "spans": record.spans, "error": error, "at": time.time()})
                   + b"\n" for record in records)
    records_fd = os.open(directory / "records.seg", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        errors_fd = os.open(directory / "errors.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            records_size = os.fstat(records_fd).st_size
            errors_size = os.fstat(errors_fd).st_size
            append_or_rollback(records_fd, data, records_size)
            try:
                append_or_rollback(errors_fd, log, errors_size)
            except OSError:
                os.ftruncate(records_fd, records_size)
                raise
        finally:
            os.close(errors_fd)
    finally:
        os.close(records_fd)
