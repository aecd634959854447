"""Pre-encoded request bodies that are sent many times with fresh ids and shifted times.

Encoding 500 spans costs tens of milliseconds of Python, far more than sending them, and
pre-encoding every body of a run would take gigabytes (100,000 spans/s for 20 s). So each body
of the pool is encoded once, and where its ids and timestamps sit in the bytes is recorded;
sending copy `seq` writes seq into every id (the first 4 bytes of each trace and span id, or
their first 8 hex digits in JSON) and adds `seq * TIME_STEP_NS` to every OTLP timestamp.
That is about 1,500 small slice writes per 500-span body (well under a millisecond).

The positions are found by encoding each body with marker values and checked by patching
one encoding into another: a wrong or missed position fails the pool build, never a run.
Shifting times matters for storage figures: identical rows would sort next to each other
under the table's ORDER BY and compress far better than real traffic does."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bench import otlp_bodies, vendor_bodies
from bench.traces import BodyModel, build_body

SEQ_LIMIT: Final = 2**32
TIME_STEP_NS: Final = 1_000_000
# Marker seqs; every byte (or hex digit) of the second differs from the first's.
_MARK: Final = 0x9E3779B9
_OTHER_MARK: Final = _MARK ^ 0xFFFFFFFF
_TIME_PROBE_NS: Final = 12_345_678_901
_FIXED64: Final = struct.Struct("<Q")

Encode = Callable[[BodyModel, int], bytes]
EncodeTimed = Callable[[BodyModel, int, Callable[[int], int]], bytes]


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    grpc: bool
    path: str  # default URL path for HTTP
    content_type: str
    seq_hex: bool  # ids are hex text (JSON) rather than raw bytes (protobuf)
    default_spans_per_request: int
    encode: Encode
    encode_timed: EncodeTimed | None = None  # OTLP: timestamps are shifted per copy
    time_decimal: bool = False  # OTLP/JSON writes times as decimal strings
    one_chat_span: bool = False  # AITracer: one LLM call per request


def _otlp_proto(body: BodyModel, seq: int) -> bytes:
    return otlp_bodies.otlp_protobuf(body, seq)


def _otlp_json(body: BodyModel, seq: int) -> bytes:
    return otlp_bodies.otlp_json(body, seq)


PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
PROTOCOLS: Final = {protocol.name: protocol for protocol in (
    Protocol("otlp-http-proto", False, "/v1/traces", PROTOBUF, False, 500, _otlp_proto,
             otlp_bodies.otlp_protobuf),
    Protocol("otlp-http-json", False, "/v1/traces", JSON, True, 500, _otlp_json, otlp_bodies.otlp_json,
             time_decimal=True),
    Protocol("otlp-grpc", True, "", PROTOBUF, False, 500, _otlp_proto, otlp_bodies.otlp_protobuf),
    Protocol("dynamiq", False, "/v1/traces", JSON, True, 500, vendor_bodies.dynamiq),
    Protocol("agentvista", False, "/api/v1/traces/batch", JSON, True, vendor_bodies.AGENTVISTA_MAX_SPANS,
             vendor_bodies.agentvista),
    Protocol("aitracer", False, "/api/traces", JSON, True, 1, vendor_bodies.aitracer, one_chat_span=True),
)}


@dataclass(frozen=True, slots=True)
class BodyTemplate:
    data: bytes
    span_count: int  # spans the body should become once stored
    seq_offsets: tuple[int, ...]
    seq_hex: bool
    time_offsets: tuple[int, ...] = ()
    time_values: tuple[int, ...] = ()
    time_decimal: bool = False

    def render(self, seq: int) -> bytearray:
        """The bytes of copy `seq` (0 <= seq < 2**32): unique ids for every seq."""
        if not 0 <= seq < SEQ_LIMIT:
            raise ValueError(f"seq must be in [0, 2**32), got {seq}")
        buffer = bytearray(self.data)
        encoded = b"%08x" % seq if self.seq_hex else seq.to_bytes(4, "big")
        width = len(encoded)
        for offset in self.seq_offsets:
            buffer[offset:offset + width] = encoded
        shift = seq * TIME_STEP_NS
        if self.time_decimal:
            for offset, value in zip(self.time_offsets, self.time_values, strict=True):
                text = b"%d" % (value + shift)
                buffer[offset:offset + len(text)] = text
        else:
            pack_into = _FIXED64.pack_into
            for offset, value in zip(self.time_offsets, self.time_values, strict=True):
                pack_into(buffer, offset, value + shift)
        return buffer


def _seq_bytes(seq: int, hex_text: bool) -> bytes:
    return b"%08x" % seq if hex_text else seq.to_bytes(4, "big")


def _patched(data: bytes, offsets: tuple[int, ...], values: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for offset, value in zip(offsets, values, strict=True):
        buffer[offset:offset + len(value)] = value
    return bytes(buffer)


def _find_seq_offsets(protocol: Protocol, body: BodyModel) -> tuple[bytes, tuple[int, ...]]:
    marked = protocol.encode(body, _MARK)
    other = protocol.encode(body, _OTHER_MARK)
    needle = _seq_bytes(_MARK, protocol.seq_hex)
    offsets: list[int] = []
    position = marked.find(needle)
    while position >= 0:
        offsets.append(position)
        position = marked.find(needle, position + len(needle))
    replacement = _seq_bytes(_OTHER_MARK, protocol.seq_hex)
    if len(marked) != len(other) or _patched(marked, tuple(offsets), [replacement] * len(offsets)) != other:
        raise RuntimeError(f"{protocol.name}: cannot locate the ids in body {body.template_index}; "
                           f"try another --seed")
    return marked, tuple(offsets)


def _time_text(value: int, decimal: bool) -> bytes:
    return b'"%d"' % value if decimal else _FIXED64.pack(value)


def _find_time_offsets(protocol: Protocol, body: BodyModel, marked: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    assert protocol.encode_timed is not None
    times = otlp_bodies.span_times(body)
    decimal = protocol.time_decimal
    offsets: list[int] = []
    cursor = 0
    for value in times:  # in encoding order, so each search starts where the last ended
        position = marked.find(_time_text(value, decimal), cursor)
        if position < 0:
            raise RuntimeError(f"{protocol.name}: timestamp {value} not found in body {body.template_index}")
        offsets.append(position + 1 if decimal else position)
        cursor = position + 1
    probe = protocol.encode_timed(body, _MARK, lambda value: value + _TIME_PROBE_NS)
    expected = [(b"%d" % (value + _TIME_PROBE_NS)) if decimal else _FIXED64.pack(value + _TIME_PROBE_NS)
                for value in times]
    if len(probe) != len(marked) or _patched(marked, tuple(offsets), expected) != probe:
        raise RuntimeError(f"{protocol.name}: cannot locate the timestamps in body {body.template_index}")
    if decimal:  # the decimal width must not change over the whole range of shifts
        largest_shift = (SEQ_LIMIT - 1) * TIME_STEP_NS
        if any(len(str(value)) != len(str(value + largest_shift)) for value in times):
            raise RuntimeError("timestamps too close to a power of ten to shift in place")
    return tuple(offsets), tuple(times)


def stored_spans(protocol: Protocol, body: BodyModel) -> int:
    return 1 if protocol.one_chat_span else body.span_count


def build_template(protocol: Protocol, body: BodyModel) -> BodyTemplate:
    marked, seq_offsets = _find_seq_offsets(protocol, body)
    if protocol.encode_timed is None:
        return BodyTemplate(marked, stored_spans(protocol, body), seq_offsets, protocol.seq_hex)
    time_offsets, time_values = _find_time_offsets(protocol, body, marked)
    return BodyTemplate(marked, stored_spans(protocol, body), seq_offsets, protocol.seq_hex,
                        time_offsets, time_values, protocol.time_decimal)


def build_pool(protocol: Protocol, seed: int, pool_size: int, spans_per_request: int,
               base_time_ns: int) -> list[BodyTemplate]:
    """`pool_size` distinct bodies; a pure function of the arguments."""
    # AITracer sends one LLM call: a root with one chat child holds exactly one.
    model_spans = 2 if protocol.one_chat_span else spans_per_request
    return [build_template(protocol, build_body(seed, index, model_spans, base_time_ns))
            for index in range(pool_size)]
