"""Value types that config dataclasses use beyond plain YAML scalars.

A config field is declared with its Python type and, where YAML needs a richer reading,
an `Annotated` marker, e.g. `timeout: Annotated[float, DURATION] = 0.2` (seconds)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    # What the error message shows as a valid example.
    example: str


# A Go-style duration string ("200ms", "5s", "1m30s", "72h") read as float seconds.
# A bare 0 is accepted and means zero.
DURATION: Final = Marker("duration", "72h")
# A size in bytes: an integer, or a string with a unit ("16MiB", "512KiB", "1GB").
BYTE_SIZE: Final = Marker("byte size", "16MiB")
# host:port
ADDRESS: Final = Marker("address", "127.0.0.1:4318")
# A filesystem path, resolved against the config file's directory.
PATH: Final = Marker("path", "./data/queue")

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNIT_S: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNIT_BYTES: Final = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mi": 1024**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4,
}


def parse_duration(value: object) -> float:
    """Seconds from a Go duration string; ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float) and value == 0:
        return 0.0
    if not isinstance(value, str):
        raise ValueError("not a duration")
    text = value.strip()
    if text in ("0", "0s"):
        return 0.0
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            raise ValueError("not a duration")
        total += float(match.group(1)) * _DURATION_UNIT_S[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        raise ValueError("not a duration")
    return total


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_byte_size(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative size")
        return value
    if not isinstance(value, str):
        raise ValueError("not a size")
    match = _SIZE.match(value)
    if not match:
        raise ValueError("not a size")
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * _SIZE_UNIT_BYTES[unit])


def parse_address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not an address")
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("not an address")
    return value


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)
