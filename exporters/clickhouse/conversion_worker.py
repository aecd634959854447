"""A conversion worker process (exporters/clickhouse/conversion.py starts it): reads requests
from stdin, answers each with Native rows or an error on stdout, ends when stdin closes."""

from __future__ import annotations

import gc
import signal
import sys
from typing import IO

from spanhouse.collector.core.errors import PermanentError
from spanhouse.exporters.clickhouse.conversion import (
    ANSWER_HEADER,
    COMPRESSIONS,
    REQUEST_HEADER,
    STATUS_OK,
    STATUS_PERMANENT,
    read_exactly,
)
from spanhouse.exporters.clickhouse.native import compress_chunks, decode_request, native_chunks


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    while True:
        try:
            length, compression = REQUEST_HEADER.unpack(read_exactly(requests, REQUEST_HEADER.size))
        except EOFError:
            return  # the collector closed the pipe: it is stopping
        # The payload is referenced by `answer`'s frame only, so it can go once decoded.
        pieces = answer(read_exactly(requests, length), COMPRESSIONS[compression])
        for piece in pieces:
            answers.write(piece)
        del pieces  # a batch's memory is given back before the next one is read
        gc.collect()  # cheap: with the batch gone and start-up's objects frozen, little to visit


def answer(payload: bytearray, compression: str | None) -> list[bytes]:
    """The answer to one request: its header, then the Native bytes or the error message."""
    try:
        request = decode_request(payload)
        del payload  # up to ~75 MB that the conversion does not need
        chunks, spans = native_chunks(request)
        del request
        if compression:
            chunks = compress_chunks(chunks, compression)
    except PermanentError as error:
        return _failure(str(error))
    except Exception as error:  # anything else is the input's doing too: it would fail again
        return _failure(f"spans cannot be converted: {type(error).__name__}: {error}")
    return [ANSWER_HEADER.pack(STATUS_OK, spans, sum(len(chunk) for chunk in chunks)), *chunks]


def _failure(message: str) -> list[bytes]:
    encoded = message.encode("utf-8", "replace")
    return [ANSWER_HEADER.pack(STATUS_PERMANENT, 0, len(encoded)), encoded]


def main() -> None:
    # Ctrl-C and a SIGTERM sent to the whole process group reach this process too; the
    # collector ends it (by closing stdin) once the batches in flight are done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A batch allocates millions of objects, none in reference cycles (strings, dicts, lists,
    # protobuf messages), all freed by reference counting. The cycle collector's passes over
    # them cost about 3 us per span (measured), so it runs once per batch instead, and skips
    # the modules' own objects (frozen), which are most of what it would otherwise visit.
    gc.disable()
    gc.freeze()
    with open(sys.stdin.fileno(), "rb", buffering=0, closefd=False) as requests, \
            open(sys.stdout.fileno(), "wb", buffering=0, closefd=False) as answers:
        sys.stdout = sys.stderr  # nothing else may write into the answers
        serve(requests, answers)


if __name__ == "__main__":
    main()
