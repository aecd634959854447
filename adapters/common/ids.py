"""Vendor ids to OTLP ids, the same in every process so that re-sent data lands on the same ids.

A UUID or 32 hex digits is taken as the 16 bytes it spells; anything else is hashed (SHA-256,
never Python's per-process `hash`). Trace ids are hashed without a vendor prefix so that two
routes that see the same vendor trace id (say, spans and guardrail results) join one trace."""

from __future__ import annotations

import hashlib
import re
from typing import Final

_HEX32: Final = re.compile(r"[0-9a-fA-F]{32}")
_HEX16: Final = re.compile(r"[0-9a-fA-F]{16}")


def _hex_digits(vendor_id: str) -> str:
    text = vendor_id.strip()
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        text = text.replace("-", "")
    return text


def trace_id_from(vendor_id: str | int) -> bytes:
    """16 bytes: the UUID / 32-hex value itself, else the first 16 bytes of its SHA-256.
    An all-zero result (invalid in OTLP) is hashed instead."""
    text = str(vendor_id)
    digits = _hex_digits(text)
    if _HEX32.fullmatch(digits):
        value = bytes.fromhex(digits)
        if any(value):
            return value
    return hashlib.sha256(b"trace:" + text.encode()).digest()[:16]


def span_id_from(vendor_id: str | int) -> bytes:
    """8 bytes: 16 hex digits taken as they are, else the first 8 bytes of a SHA-256 (a UUID
    span id does not fit 8 bytes, so it is hashed too)."""
    text = str(vendor_id)
    if _HEX16.fullmatch(text.strip()):
        value = bytes.fromhex(text.strip())
        if any(value):
            return value
    return hashlib.sha256(b"span:" + text.encode()).digest()[:8]


def derived_span_id(*parts: str) -> bytes:
    """A span id for a span the vendor did not give one (a trace's root span, say)."""
    return hashlib.sha256(("derived:" + "\x1f".join(parts)).encode()).digest()[:8]
