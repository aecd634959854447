"""Checking and re-encoding the JSON values Archal clients send: bounded nesting, valid Unicode,
finite numbers, and integers of any size kept exactly when a payload is stored as JSON text."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Final

import orjson

from spanhouse.adapters.common.attributes import to_json

# Nesting levels accepted in a request body (the body itself is level 1). orjson encodes at most
# 254 levels, so everything accepted can be stored again as JSON; OTLP/JSON at its deepest legal
# AnyValue nesting (31 kvlist levels, see proto.otlp_json) needs about 130.
MAX_NESTING_DEPTH: Final = 200
# orjson handles integers in [-2**63, 2**64); larger ones are valid JSON but need the slow path.
MAX_PATH_PARTS_SHOWN: Final = 8
_ORJSON_MIN_INT: Final = -(2**63)
_ORJSON_MAX_INT: Final = 2**64 - 1


def render_path(path: tuple[str | int, ...]) -> str:
    """`routing.rules[2].target` for the path of keys and indexes from the body down; a very
    deep path shows its first levels only."""
    text = ""
    for part in path[:MAX_PATH_PARTS_SHOWN]:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    if len(path) > MAX_PATH_PARTS_SHOWN:
        text += "..."
    return text or "body"


def find_problem(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """The first (path, problem) that makes `value` unfit to store, or None. Iterative, so a
    hostile nesting depth costs a loop, not Python's stack."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, path)]
    while stack:
        current, depth, where = stack.pop()
        if isinstance(current, dict):
            if depth > MAX_NESTING_DEPTH:
                return render_path(where), f"is nested deeper than {MAX_NESTING_DEPTH} levels"
            for key, item in current.items():
                if not isinstance(key, str):
                    return render_path(where), "has a key that is not a string"
                if not _is_valid_text(key):
                    return render_path(where), "has a key that is not valid Unicode"
                stack.append((item, depth + 1, (*where, key)))
        elif isinstance(current, list):
            if depth > MAX_NESTING_DEPTH:
                return render_path(where), f"is nested deeper than {MAX_NESTING_DEPTH} levels"
            stack.extend((item, depth + 1, (*where, index)) for index, item in enumerate(current))
        elif isinstance(current, str):
            if not _is_valid_text(current):
                return render_path(where), "is not valid Unicode (it holds a lone surrogate)"
        elif isinstance(current, float):
            # JSON has no NaN or Infinity (orjson refuses 1e400 on the wire); neither can be stored.
            if not math.isfinite(current):
                return render_path(where), "is not a finite number"
        elif current is not None and not isinstance(current, bool | int):
            return render_path(where), f"is not a JSON value ({type(current).__name__})"
    return None


def _is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def inspect(value: Any) -> tuple[tuple[str, str] | None, bool]:
    """find_problem's verdict, and whether any integer is beyond what orjson can encode, in one
    walk that builds no paths (the costly part of find_problem, run only once a problem is seen).
    Exact type checks: JSON decoders build plain dicts, lists, strs, ints and floats."""
    wide_integers = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        kind = type(current)
        if kind is dict:
            if depth > MAX_NESTING_DEPTH or not all(type(key) is str and _is_valid_text(key) for key in current):
                return find_problem(value), wide_integers
            stack.extend((item, depth + 1) for item in current.values())
        elif kind is list:
            if depth > MAX_NESTING_DEPTH:
                return find_problem(value), wide_integers
            stack.extend((item, depth + 1) for item in current)
        elif kind is str:
            if not _is_valid_text(current):
                return find_problem(value), wide_integers
        elif kind is int:
            if not _ORJSON_MIN_INT <= current <= _ORJSON_MAX_INT:
                wide_integers = True
        elif kind is float:
            if not math.isfinite(current):
                return find_problem(value), wide_integers
        elif current is not None and kind is not bool:
            return find_problem(value), wide_integers
    return None, wide_integers


def widen_to_strings(value: Any) -> Any:
    """A copy with integers orjson cannot encode as their decimal text, for attribute building
    (adapters.common.attributes encodes with orjson). Only called on checked, depth-bounded values."""
    if isinstance(value, dict):
        return {key: widen_to_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [widen_to_strings(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _ORJSON_MIN_INT <= value <= _ORJSON_MAX_INT:
        return str(value)
    return value


def dump_json(value: Any, sort_keys: bool = False) -> str:
    """Compact JSON of a checked value, integers exact whatever their size."""
    try:
        if sort_keys:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        return to_json(value)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits: the standard library writes them exactly (and slowly).
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)


def digest(*parts: str) -> str:
    """Hex SHA-256 of the parts, for ids derived from content: the same input gives the same id
    in every process."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
