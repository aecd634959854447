"""A queued OTLP export request as the bytes of a ClickHouse Native insert.

This is the exporter's whole per-span Python work (decode, `to_columns`, clickhouse-connect's
Native encoding), gathered in one function of bytes in and bytes out so that it can run in a
worker process (exporters/clickhouse/conversion.py): the collector's process then spends no
GIL time per span on inserts, and the engine only parses Native columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.compression import get_compressor
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform
from google.protobuf.message import DecodeError

from spanhouse.collector.core.component import Traces
from spanhouse.collector.core.errors import PermanentError
from spanhouse.exporters.clickhouse.columns import (
    COLUMN_NAMES,
    COLUMN_TYPES,
    resource_groups,
    resource_spans_to_columns,
)

_TYPES: Final = tuple(get_from_name(name) for name in COLUMN_TYPES)
GROUP_SPANS: Final = 4096


@dataclass(frozen=True, slots=True)
class NativeInsert:
    """Native-format rows for the spans table, compressed with `compression` when it is set
    (the Content-Encoding a server is told), and how many spans they hold."""

    data: bytes | bytearray
    span_count: int
    compression: str | None


def encode_native(payload: bytes | bytearray, compression: str | None = None) -> NativeInsert:
    """`payload` (one serialized ExportTraceServiceRequest, or several concatenated: protobuf
    merges them into one) as Native rows in COLUMN_NAMES order. Input that cannot be decoded
    or converted raises PermanentError: sending it again would fail the same way."""
    chunks, span_count = native_chunks(decode_request(payload))
    if compression:
        chunks = compress_chunks(chunks, compression)
    return NativeInsert(b"".join(chunks), span_count, compression)


def compress_chunks(chunks: list[bytes], compression: str) -> list[bytes]:
    """Each piece compressed on its own, a frame each as clickhouse-connect's own inserts send
    them (lz4 or zstd), each uncompressed piece freed once compressed: the whole batch is never
    held twice."""
    compressor = get_compressor(compression)
    compressed: list[bytes] = []
    chunks.reverse()
    while chunks:
        compressed.append(bytes(compressor.compress_block(chunks.pop())))
    tail = compressor.flush()
    if tail:
        compressed.append(bytes(tail))
    return compressed


def decode_request(payload: bytes | bytearray) -> Traces:
    try:
        request: Traces = Traces.FromString(payload)
    except DecodeError as error:
        raise PermanentError(f"spans cannot be converted: {error}") from error
    return request


def native_chunks(request: Traces) -> tuple[list[bytes], int]:
    """The uncompressed Native bytes in pieces (a worker writes them out without joining them
    first), and the number of spans. Converted GROUP_SPANS spans at a time: the Python objects
    of a group (about 10 KB per span) are freed before the next group, so a worker's memory
    follows the group's size rather than the batch's (up to 50,000 spans)."""
    resources = request.resource_spans
    chunks: list[bytes] = []
    span_count = 0
    # One context for every group: an InsertContext holds its data in a reference cycle (a
    # bound method of itself), which the workers collect only between batches
    # (conversion_worker.py). Reused, it holds one group's columns at a time; one per group
    # kept every group's (measured: 50,000 spans took a worker from 250 to 580 MB).
    context = InsertContext("spans", COLUMN_NAMES, _TYPES, column_oriented=True)
    for group in resource_groups(resources, GROUP_SPANS):
        try:
            batch = resource_spans_to_columns(group)
        except (ValueError, TypeError, OverflowError) as error:
            raise PermanentError(f"spans cannot be converted: {error}") from error
        context.data = batch.columns
        encoded = list(NativeTransform.build_insert(context))
        if context.insert_exception is not None:
            raise PermanentError(f"spans cannot be encoded: {context.insert_exception}") \
                from context.insert_exception
        # build_insert puts the INSERT statement before the first block, for an HTTP body; the
        # statement is ours to send (raw_insert), so only the Native bytes after it are kept.
        if encoded:
            encoded[0] = encoded[0][encoded[0].index(b"\n") + 1:]
        chunks.extend(encoded)
        span_count += batch.span_count
    return chunks, span_count
