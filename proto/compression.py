"""Content-Encoding for OTLP bodies: bounded decompression (bomb-safe) and compression."""

from __future__ import annotations

import io
import zlib
from typing import Final

import zstandard

from spanhouse.proto.errors import DecompressedTooLargeError, MalformedPayloadError, UnknownEncodingError

# Names as sent in Content-Encoding / grpc-encoding, mapped to the codec that undoes them.
# "zlib" and "x-gzip" are aliases the Go collector and some clients use.
_CODECS: Final = {
    "gzip": "gzip", "x-gzip": "gzip",
    "deflate": "deflate", "zlib": "deflate",
    "zstd": "zstd",
    "identity": "identity", "": "identity",
}
SUPPORTED_ENCODINGS: Final = ("gzip", "deflate", "zstd", "identity")
# Output is produced at most this much at a time, so a bomb costs one chunk, not its size.
_CHUNK_BYTES: Final = 256 * 1024
_INPUT_SLICE_BYTES: Final = 64 * 1024
# zstd decoders allocate the window a frame asks for. Allow what the body may inflate to, at
# least what zstd's slowest level uses by default (8 MiB), at most zstd's own cap (128 MiB).
_MAX_ZSTD_WINDOW_BYTES: Final = 1 << 27
_MIN_ZSTD_WINDOW_BYTES: Final = 1 << 23


def _codec(encoding: str | None) -> str:
    name = (encoding or "").strip().lower()
    codec = _CODECS.get(name)
    if codec is None:
        raise UnknownEncodingError(
            f'unsupported content encoding "{encoding}" (supported: {", ".join(SUPPORTED_ENCODINGS)})')
    return codec


def _too_large(max_bytes: int) -> DecompressedTooLargeError:
    return DecompressedTooLargeError(f"decompressed body exceeds the limit of {max_bytes} bytes")


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """`body` with `encoding` undone, never inflated past `max_bytes`."""
    codec = _codec(encoding)
    if codec == "identity" or not body:
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
        return body
    if codec == "zstd":
        return _zstd(body, max_bytes)
    if codec == "gzip":
        return _inflate(body, zlib.MAX_WBITS | 16, max_bytes, "gzip")
    # RFC 9110's "deflate" is zlib-wrapped, but some clients send raw deflate: a zlib stream
    # starts with a header whose check bits make the first two bytes a multiple of 31.
    if len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
        return _inflate(body, zlib.MAX_WBITS, max_bytes, "deflate")
    return _inflate(body, -zlib.MAX_WBITS, max_bytes, "deflate")


def _inflate(body: bytes, wbits: int, max_bytes: int, name: str) -> bytes:
    # BytesIO.getvalue() hands over its buffer without a copy, so the peak stays near max_bytes;
    # input goes in slices because zlib copies whatever it leaves in unconsumed_tail.
    output = io.BytesIO()
    view = memoryview(body)
    position = 0
    try:
        # One pass per gzip member: readers must accept concatenated members (RFC 1952).
        while position < len(body):
            inflater = zlib.decompressobj(wbits)
            pending: bytes | memoryview = b""
            while not inflater.eof:
                if not pending and position < len(body):
                    pending = view[position:position + _INPUT_SLICE_BYTES]
                    position += len(pending)
                chunk = inflater.decompress(pending, _CHUNK_BYTES)
                pending = inflater.unconsumed_tail
                if not chunk and not pending and position >= len(body) and not inflater.eof:
                    raise MalformedPayloadError(f"{name} body is truncated")
                output.write(chunk)
                if output.tell() > max_bytes:
                    raise _too_large(max_bytes)
            if not wbits & 16:
                break  # zlib and raw deflate: one stream, trailing bytes ignored
            position -= len(inflater.unused_data)
    except zlib.error as error:
        raise MalformedPayloadError(f"{name} body is corrupt: {error}") from None
    return output.getvalue()


def _zstd(body: bytes, max_bytes: int) -> bytes:
    # zstandard bounds output only in stream_reader, which cannot tell a truncated body from a
    # complete one; decompressobj reports the end of each frame but cannot bound its output.
    # So a first pass measures within the bound, discarding output, and a second one, now
    # known to fit, produces the body and checks that every frame ended. zstd inflates at
    # about 1 GB/s, so the extra pass costs ~1 ms per MB, against a far slower parse after it.
    window = min(_MAX_ZSTD_WINDOW_BYTES, max(_MIN_ZSTD_WINDOW_BYTES, 1 << max_bytes.bit_length()))
    decompressor = zstandard.ZstdDecompressor(max_window_size=window)
    try:
        size = 0
        with decompressor.stream_reader(body, read_across_frames=True) as reader:
            while chunk := reader.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes)
        output = io.BytesIO()
        view = memoryview(body)
        position = 0
        while position < len(body):  # one pass per frame: concatenated frames are valid zstd
            frame = decompressor.decompressobj()
            while not frame.eof:
                if position >= len(body):
                    raise MalformedPayloadError("zstd body is truncated")
                piece = view[position:position + _INPUT_SLICE_BYTES]
                position += len(piece)
                output.write(frame.decompress(piece))
                if output.tell() > max_bytes:  # the first pass says it cannot; stay safe
                    raise _too_large(max_bytes)
            position -= len(frame.unused_data)
    except zstandard.ZstdError as error:
        raise MalformedPayloadError(f"zstd body is corrupt: {error}") from None
    return output.getvalue()


def compress(body: bytes, encoding: str | None) -> bytes:
    """`body` encoded with `encoding`, for tests and clients."""
    codec = _codec(encoding)
    if codec == "gzip":
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
        return compressor.compress(body) + compressor.flush()
    if codec == "deflate":
        return zlib.compress(body)
    if codec == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(body))
    return body
