"""Content-Encoding: round trips, the deflate variants, corrupt input and decompression bombs."""

from __future__ import annotations

import os
import struct
import time
import tracemalloc
import zlib

import pytest
import zstandard

from spanhouse.proto.compression import compress, decompress
from spanhouse.proto.errors import DecompressedTooLargeError, MalformedPayloadError, UnknownEncodingError

MIB = 1024 * 1024
BODY = b'{"resourceSpans": []}' * 1000 + os.urandom(50_000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "identity", "", None,
                                      "GZIP", " gzip ", "x-gzip", "zlib", "Zstd"])
@pytest.mark.parametrize("body", [b"", b"x", BODY], ids=["empty", "one byte", "mixed"])
def test_round_trip(encoding: str | None, body: bytes) -> None:
    assert decompress(compress(body, encoding), encoding, len(body)) == body


@pytest.mark.parametrize("encoding", ["identity", "", None])
def test_identity_is_the_body_itself(encoding: str | None) -> None:
    assert decompress(BODY, encoding, len(BODY)) is BODY
    with pytest.raises(DecompressedTooLargeError):
        decompress(BODY, encoding, len(BODY) - 1)


def test_deflate_accepts_zlib_wrapped_and_raw_streams() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(BODY) + raw.flush()
    assert decompress(raw_body, "deflate", len(BODY)) == BODY
    assert decompress(zlib.compress(BODY, 9), "deflate", len(BODY)) == BODY


def test_concatenated_gzip_members_and_zstd_frames() -> None:
    assert decompress(compress(b"abc", "gzip") + compress(b"def", "gzip"), "gzip", 6) == b"abcdef"
    assert decompress(compress(b"abc", "zstd") + compress(b"def", "zstd"), "zstd", 6) == b"abcdef"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_limit_is_inclusive(encoding: str) -> None:
    compressed = compress(BODY, encoding)
    assert decompress(compressed, encoding, len(BODY)) == BODY
    with pytest.raises(DecompressedTooLargeError, match=f"exceeds the limit of {len(BODY) - 1} bytes"):
        decompress(compressed, encoding, len(BODY) - 1)


def zeros_bomb(container: str, mebibytes: int) -> bytes:
    """A real single-stream deflate of `mebibytes` MiB of zeros (1 GiB in 0.2 s, 1 MB big):
    after a full flush deflate starts afresh, so every 1 MiB block compresses to the same bytes."""
    zeros = bytes(MIB)
    wbits = {"gzip": zlib.MAX_WBITS | 16, "zlib": zlib.MAX_WBITS, "raw": -zlib.MAX_WBITS}[container]
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    trailer = b""
    if container == "gzip":
        crc = 0
        for _ in range(mebibytes):
            crc = zlib.crc32(zeros, crc)
        trailer = struct.pack("<II", crc, (mebibytes * MIB) & 0xFFFFFFFF)
    elif container == "zlib":
        adler = 1
        for _ in range(mebibytes):
            adler = zlib.adler32(zeros, adler)
        trailer = struct.pack(">I", adler)
    return first + repeated * (mebibytes - 1) + final_block + trailer


def zeros_zstd(mebibytes: int) -> bytes:
    """zstd of `mebibytes` MiB of zeros, streamed so that the frame does not declare its size."""
    compressor = zstandard.ZstdCompressor().compressobj()
    zeros = bytes(MIB)
    return b"".join(compressor.compress(zeros) for _ in range(mebibytes)) + compressor.flush()


@pytest.mark.parametrize(("container", "encoding"),
                         [("gzip", "gzip"), ("zlib", "deflate"), ("raw", "deflate")])
def test_the_bomb_builder_makes_valid_streams(container: str, encoding: str) -> None:
    assert decompress(zeros_bomb(container, 16), encoding, 16 * MIB) == bytes(16 * MIB)


BOMBS = {
    "gzip": lambda: zeros_bomb("gzip", 1024),
    "deflate zlib-wrapped": lambda: zeros_bomb("zlib", 1024),
    "deflate raw": lambda: zeros_bomb("raw", 1024),
    "zstd streamed": lambda: zeros_zstd(1024),
    "zstd with declared size": lambda: compress(bytes(64 * MIB), "zstd"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_stop_at_the_limit_quickly_and_in_little_memory(name: str) -> None:
    bomb = BOMBS[name]()
    encoding = name.split()[0]
    max_bytes = MIB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DecompressedTooLargeError):
            decompress(bomb, encoding, max_bytes)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < 2 * MIB
    assert elapsed < 0.5
    assert peak < 4 * max_bytes


CORRUPT = [
    ("gzip", b"definitely not gzip", "gzip body is corrupt"),
    ("gzip", compress(BODY, "gzip")[:-20], "gzip body is truncated"),
    ("gzip", compress(b"abc", "gzip") + b"trailing garbage", "gzip body is corrupt"),
    ("deflate", b"\x78\x9c garbage after a zlib header", "deflate body is corrupt"),
    ("deflate", b"\xff\xff\xff\xff", "deflate body is corrupt"),
    ("deflate", zlib.compress(BODY)[:100], "deflate body is truncated"),
    ("zstd", b"not zstd at all", "zstd body is corrupt"),
    ("zstd", compress(BODY, "zstd")[:-50], "zstd body is truncated"),
    ("zstd", compress(b"abc", "zstd") + compress(BODY, "zstd")[:-50], "zstd body is truncated"),
    ("zstd", compress(b"abc", "zstd") + b"trailing garbage", "zstd body is corrupt"),
]


@pytest.mark.parametrize(("encoding", "body", "message"), CORRUPT,
                         ids=[f"{message} {index}" for index, (_, _, message) in enumerate(CORRUPT)])
def test_corrupt_bodies_are_permanent_errors(encoding: str, body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayloadError, match=message) as raised:
        decompress(body, encoding, 10 * MIB)
    assert type(raised.value) is MalformedPayloadError


@pytest.mark.parametrize("encoding", ["br", "snappy", "gzip, br"])
def test_unknown_encodings_list_the_supported_ones(encoding: str) -> None:
    with pytest.raises(UnknownEncodingError, match=r"\(supported: gzip, deflate, zstd, identity\)"):
        decompress(b"x", encoding, MIB)
    with pytest.raises(UnknownEncodingError):
        compress(b"x", encoding)
