"""Vendor values as error messages show them: a value's JSON type (or the value itself, cut
short), and vendor text quoted so that an error never echoes a huge body or breaks its JSON."""

from __future__ import annotations

from typing import Any, Final

import orjson

from spanhouse.adapters.common.attributes import clean_text

# Vendor text quoted in an error message is cut to this many characters.
MAX_QUOTED_CHARS: Final = 80
# A value shown literally (describe(..., literal=True)) is cut to this many characters.
MAX_SHOWN_CHARS: Final = 40


def describe(value: Any, *, literal_booleans: bool = False, literal: bool = False) -> str:
    """The JSON type of a decoded value ("null", "a boolean", "a number", "a string", "an array",
    "an object"). With `literal_booleans`, true or false; with `literal`, booleans, strings (as
    JSON, cut short) and numbers ("number 12") are shown as sent."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return ("true" if value else "false") if literal or literal_booleans else "a boolean"
    if isinstance(value, str):
        if not literal:
            return "a string"
        shown = clean_text(value[:MAX_SHOWN_CHARS])
        return orjson.dumps(shown).decode() + ("..." if len(value) > MAX_SHOWN_CHARS else "")
    if isinstance(value, int | float):
        if not literal:
            return "a number"
        text = repr(value)
        return "number " + (text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "...")
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def quote(text: str) -> str:
    """`text` cut to a readable length, with lone surrogates escaped so that the error body
    stays valid UTF-8 JSON."""
    clipped = text if len(text) <= MAX_QUOTED_CHARS else text[:MAX_QUOTED_CHARS] + "..."
    return clipped.encode("utf-8", "backslashreplace").decode("utf-8")
