"""Dynamiq values as OTLP attributes: text cleaned of lone surrogates, scalars typed, objects and
arrays as JSON text, built in place in the repeated attributes field."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from spanhouse.adapters.common.attributes import clean_text


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # orjson refuses integers beyond 64 bits and lone surrogates; the standard library
        # writes both (the surrogates escaped), and depth was bounded by validation.
        return json.dumps(value, ensure_ascii=True, default=str, separators=(",", ":"))


def put(attributes: Any, key: str, value: Any) -> None:
    """Adds `key=value` unless the value is None: scalars keep their OTLP type; objects and
    arrays become JSON text (the issue's rule). `key` is clean text (clean_text() a vendor's)."""
    if value is None:
        return
    # Built in place: constructing a KeyValue and appending it copies the message, which was
    # the largest cost of translating a run (bench.adapters).
    attribute = attributes.add()
    attribute.key = key
    target = attribute.value
    if isinstance(value, str):
        target.string_value = clean_text(value)
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            target.double_value = value
        else:
            target.string_value = str(value)
    else:
        target.string_value = json_text(value)


def put_strings(attributes: Any, key: str, value: Any) -> None:
    """A list of strings (empty too) as an OTLP string array; anything else as `put` keeps it."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        attribute = attributes.add()
        attribute.key = key
        array = attribute.value.array_value
        array.SetInParent()  # an empty list is still an (empty) array value
        values = array.values
        for item in value:
            values.add().string_value = clean_text(item)
    else:
        put(attributes, key, value)
