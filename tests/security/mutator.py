"""A seeded, structure-aware mutator for request bodies: random bytes, truncated and bit-flipped
valid bodies, and JSON documents with a node replaced by a hostile value (wrong types, huge and
negative numbers, NaN, invalid UTF-8, duplicate keys, very deep nesting, oversized fields)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import orjson

HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, -(2**63), 2**63, 2**64 + 1, 10**30, -(10**30), 1e308, -1e-308, 0.5, "",
    "x" * 70_000, "\u0000", "\ud800", "0" * 32, "ffffffffffffffffffffffffffffffff", [], {}, [None], {"": None},
    "2024-13-45T99:99:99Z", "NaN", "-1", "1e999", [1, "a", None, {}], {"traceId": 5},
)


def _random_bytes(rng: random.Random, size: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(size))


def _paths(document: Any, prefix: tuple[Any, ...] = (), limit: int = 400) -> list[tuple[Any, ...]]:
    """Paths to the nodes of `document`, breadth first, at most `limit`."""
    paths: list[tuple[Any, ...]] = [prefix]
    queue: list[tuple[tuple[Any, ...], Any]] = [(prefix, document)]
    while queue and len(paths) < limit:
        path, node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            paths.append((*path, key))
            queue.append(((*path, key), child))
    return paths


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


_DEEP_MARKER = "DEEP-NESTING-MARKER"


def _deep(rng: random.Random) -> bytes:
    """Nesting as text: Python's own encoder would hit the recursion limit writing it."""
    depth = rng.choice((50, 200, 1000, 10_000))
    if rng.random() < 0.5:
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def mutate_json(rng: random.Random, valid: Any) -> bytes:
    """`valid` with one hostile change, as bytes (some changes only exist as text)."""
    document = orjson.loads(orjson.dumps(valid))
    choice = rng.random()
    if choice < 0.55:
        path = rng.choice(_paths(document))
        if rng.random() < 0.85:
            # json, not orjson: it writes integers past 64 bits, NaN, and lone surrogates as \ud800.
            return json.dumps(_replace(document, path, rng.choice(HOSTILE_VALUES))).encode()
        text = json.dumps(_replace(document, path, _DEEP_MARKER)).encode()
        return text.replace(b'"' + _DEEP_MARKER.encode() + b'"', _deep(rng), 1)
    text = orjson.dumps(document)
    if choice < 0.65:  # text-only JSON: NaN, Infinity, huge exponents, duplicate keys
        token = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e99999", b"-0", b"123456789012345678901234567890"))
        positions = [index for index, byte in enumerate(text) if byte in b":,["]
        if positions:
            at = rng.choice(positions) + 1
            end = at
            while end < len(text) and text[end] not in b",]}":
                end += 1
            return text[:at] + token + text[end:]
        return token
    if choice < 0.72 and text.startswith(b"{") and len(text) > 2:
        return b'{"traces": 1, "runs": 2, "traces": [], ' + text[1:]  # duplicate keys
    if choice < 0.8:  # invalid UTF-8 inside a string
        at = text.find(b'"', rng.randrange(len(text)))
        return text if at < 0 else text[:at + 1] + rng.choice((b"\xff\xfe", b"\xc3", b"\xed\xa0\x80")) + text[at + 1:]
    return mutate_bytes(rng, text)


def mutate_bytes(rng: random.Random, valid: bytes) -> bytes:
    """Random bytes, or `valid` truncated, bit-flipped, spliced or repeated."""
    choice = rng.random()
    if choice < 0.15 or not valid:
        return _random_bytes(rng, rng.choice((0, 1, 7, 64, 1000)))
    if choice < 0.4:
        return valid[:rng.randrange(len(valid))]
    if choice < 0.75:
        data = bytearray(valid)
        for _ in range(rng.choice((1, 2, 8, 32))):
            index = rng.randrange(len(data))
            data[index] ^= 1 << rng.randrange(8)
        return bytes(data)
    if choice < 0.9:
        at = rng.randrange(len(valid))
        return valid[:at] + _random_bytes(rng, rng.randrange(1, 32)) + valid[at:]
    return valid * rng.choice((2, 3))


def mutator_for(kind: str) -> Callable[[random.Random, Any], bytes]:
    return mutate_json if kind == "json" else mutate_bytes
