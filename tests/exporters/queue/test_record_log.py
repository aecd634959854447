"""The queue's file format: records round-trip, and damage is found, skipped and counted."""

from __future__ import annotations

from spanhouse.exporters.queue.record_log import HEADER_BYTES, ScanResult, encode_record, scan_segment


def records(data: bytes) -> tuple[list[tuple[int, bytes]], ScanResult]:
    result = ScanResult()
    found = [(record.seq, record.payload) for _, record in scan_segment(data, result)]
    return found, result


def test_round_trip() -> None:
    data = b"".join(encode_record(seq, f"payload {seq}".encode(), seq * 10) for seq in range(1, 6))
    found, result = records(data)
    assert found == [(seq, f"payload {seq}".encode()) for seq in range(1, 6)]
    assert (result.corrupt_regions, result.skipped_bytes, result.end_offset) == (0, 0, len(data))


def test_torn_tail_is_skipped_and_counted() -> None:
    whole = encode_record(1, b"a" * 100, 1) + encode_record(2, b"b" * 100, 1)
    torn = whole + encode_record(3, b"c" * 100, 1)[:50]
    found, result = records(torn)
    assert [seq for seq, _ in found] == [1, 2]
    assert result.end_offset == len(whole)
    assert (result.corrupt_regions, result.skipped_bytes) == (1, 50)


def test_flipped_byte_in_the_middle_loses_only_that_record() -> None:
    parts = [encode_record(seq, bytes([seq]) * 200, 1) for seq in range(1, 5)]
    data = bytearray(b"".join(parts))
    data[len(parts[0]) + HEADER_BYTES + 17] ^= 0xFF  # inside record 2's payload
    found, result = records(bytes(data))
    assert [seq for seq, _ in found] == [1, 3, 4]
    assert result.corrupt_regions == 1
    assert result.skipped_bytes == len(parts[1])


def test_garbage_only() -> None:
    found, result = records(b"\x00" * 1000)
    assert found == []
    assert result.skipped_bytes == 1000
