"""OTLP attribute values as the strings the contrib exporter stores (pdata's Value.AsString).

Strings as they are, bools true/false, ints in decimal, doubles the way Go's encoding/json
writes them, bytes as standard base64, arrays and maps as the JSON Go's json.Marshal gives for
Value.AsRaw(): map keys sorted, <, > and & escaped, a NaN or infinity anywhere inside making
the whole value empty (Marshal fails and AsString ignores the error)."""

from __future__ import annotations

import json
import math
from base64 import b64encode
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# Go's encoding/json escapes these on top of what Python's json escapes (HTML safety and the
# two JavaScript line terminators). Both escape \b and \f the short way (Go since 1.22).
_GO_EXTRA_ESCAPES: Final = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                            ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_encode_python_json_string = json.encoder.encode_basestring  # ensure_ascii=False flavour


class _UnsupportedValueError(ValueError):
    """NaN or an infinity inside an array or map: Go's json.Marshal refuses the whole value."""


def format_double(value: float) -> str:
    """A double as Go formats it for JSON and for AsString: the shortest digits that read back
    the same, fixed notation unless |x| < 1e-6 or |x| >= 1e21, exponents without a leading 0.
    NaN and infinities as pdata writes them."""
    if math.isnan(value):
        return "json: unsupported value: NaN"
    if math.isinf(value):
        return "json: unsupported value: +Inf" if value > 0 else "json: unsupported value: -Inf"
    return _format_finite_double(value)


def _format_finite_double(value: float) -> str:
    text = repr(value)  # Python's repr is also the shortest round-tripping form
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # Python's repr is in exponent form throughout this range, as d[.ddd]e±XX, like Go's.
        mantissa, _, exponent = text.partition("e")
        if exponent.startswith("-0"):
            exponent = "-" + exponent[2:]
        return f"{mantissa}e{exponent}"
    if "e" in text:  # 1e-6 <= |x| < 1e-4 or 1e16 <= |x| < 1e21: Go writes the digits out
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def go_json_string(text: str) -> str:
    encoded: str = _encode_python_json_string(text)
    for character, escape in _GO_EXTRA_ESCAPES:
        if character in encoded:
            encoded = encoded.replace(character, escape)
    return encoded


def _raw_json(value: AnyValue) -> str:
    """JSON of one nested value, as json.Marshal writes Value.AsRaw()."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return go_json_string(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        number = value.double_value
        if math.isnan(number) or math.isinf(number):
            raise _UnsupportedValueError(number)
        return _format_finite_double(number)
    if kind == "bytes_value":
        return '"' + b64encode(value.bytes_value).decode("ascii") + '"'
    if kind == "array_value":
        return _array_json(value.array_value.values)
    if kind == "kvlist_value":
        return _map_json(value.kvlist_value.values)
    return "null"


def _array_json(values: Iterable[AnyValue]) -> str:
    return "[" + ",".join([_raw_json(item) for item in values]) + "]"


def _map_json(pairs: Iterable[KeyValue]) -> str:
    # A later duplicate key wins, as when pdata builds the Go map; Go sorts map keys.
    by_key = {pair.key: pair.value for pair in pairs}
    return "{" + ",".join([go_json_string(key) + ":" + _raw_json(by_key[key])
                           for key in sorted(by_key)]) + "}"


def any_value_to_string(value: AnyValue) -> str:
    """pdata's Value.AsString() for any OTLP value; '' for an empty value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        return format_double(value.double_value)
    if kind == "bytes_value":
        return b64encode(value.bytes_value).decode("ascii")
    try:
        if kind == "array_value":
            return _array_json(value.array_value.values)
        if kind == "kvlist_value":
            return _map_json(value.kvlist_value.values)
    except _UnsupportedValueError:
        return ""
    return ""


def attributes_to_map(attributes: Iterable[KeyValue],
                      convert: Callable[[AnyValue], str] = any_value_to_string) -> dict[str, str]:
    """Attributes as the Map(LowCardinality(String), String) value, in their order."""
    # Most attributes are non-empty strings: one field read instead of WhichOneof. A
    # comprehension measured about 8% faster than the equivalent loop.
    return {attribute.key: attribute.value.string_value or convert(attribute.value)
            for attribute in attributes}
