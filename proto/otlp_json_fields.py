"""The field setters of the OTLP/JSON decoder (proto/otlp_json.py): one per proto field, chosen
by its type, in a table per message, each naming the field when its value is malformed.

Decoding is the receiver's hot path. Measured on 2,000-span batches of 10-attribute spans (best of
7, one core, upb backend): assigning fields in place 66,000 spans/s (kept); kwargs dicts passed to
the upb constructors 44,000 (53,000 per span); hand-built protobuf wire + FromString 71,000
without any checks; json_format.Parse 8,900; orjson.loads alone 240,000. Encoding: 54,000."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final

import orjson
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanhouse.proto.otlp_json_encode import is_repeated

# AnyValue arrays and kvlists nested deeper than this are refused. Not 64: whatever we accept
# must parse again as protobuf (queue, gRPC forwarding), and upb refuses messages nested over
# 100 deep; a kvlist level costs 3 of them, and an event attribute starts at 7 (7 + 3 * 31 = 100).
MAX_ANY_VALUE_DEPTH: Final = 31
# What the fields of AnyValue and KeyValue expect, for error messages, in both spellings.
_VALUE_EXPECTS: Final = {
    "key": "a string", "stringValue": "a string", "intValue": "an integer", "doubleValue": "a number",
    "boolValue": "true or false", "bytesValue": "a base64 string", "keyStrindex": "an integer",
    "stringValueStrindex": "an integer",
}
_VALUE_EXPECTS.update({"".join("_" + c.lower() if c.isupper() else c for c in key): expects
                       for key, expects in list(_VALUE_EXPECTS.items())})


class DecodeError(Exception):
    """Raised where the problem is; each enclosing level adds its key or index on the way out,
    so the happy path pays nothing for error paths."""

    def __init__(self, reason: str, *path: str | int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = list(path)  # innermost first

    def render(self) -> str:
        text = ""
        for part in reversed(self.path):
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return f"{text}: {self.reason}" if text else self.reason


_Setter = Callable[[Any, Any], None]
# JSON key (lowerCamelCase and snake_case alike) -> setter.
_Fields = dict[str, _Setter]
# What each setter expects, for error messages only (kept apart to spare the hot path).
_EXPECTS: dict[_Setter, str] = {}


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "string " + orjson.dumps(value[:40]).decode() + ("..." if len(value) > 40 else "")
    if isinstance(value, int | float):
        return f"number {value!r}"
    return "an array" if isinstance(value, list) else "an object"


def _parse_integer(value: Any) -> int:
    # OTLP/JSON sends 64-bit integers as decimal strings; small ones may come as numbers.
    if type(value) is str:
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    raise TypeError("not an integer")


def _parse_double(value: Any) -> float:
    if type(value) is float or type(value) is int:
        return value
    if type(value) is str:  # proto3 JSON: "NaN", "Infinity", "-Infinity" (numeric strings too)
        return float(value)
    raise TypeError("not a number")


def _parse_hex(value: Any) -> bytes:
    if type(value) is not str:
        raise DecodeError(f"expected a hex string, got {describe(value)}")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) * 2 != len(value):  # also refuses the spaces fromhex tolerates
        reason = "odd length" if len(value) % 2 else "not a hex digit"
        raise DecodeError(f"invalid hex ({reason}): {describe(value)}")
    return raw


def _parse_base64(value: Any) -> bytes:
    if type(value) is not str:
        raise TypeError("not a string")
    # Standard alphabet per the proto3 JSON mapping; URL-safe and unpadded forms accepted too.
    text = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def fill(message: Any, obj: Any, fields: _Fields) -> None:
    if type(obj) is not dict:
        raise DecodeError(f"expected an object, got {describe(obj)}")
    for key, value in obj.items():
        setter = fields.get(key)
        if setter is None or value is None:
            continue  # the spec: unknown fields are ignored; null reads as absent
        try:
            setter(message, value)
        except DecodeError as error:
            error.path.append(key)
            raise
        except (TypeError, ValueError, OverflowError, KeyError) as error:
            # upb checks types and ranges on assignment; we only name the field.
            raise DecodeError(f"expected {_EXPECTS[setter]}, got {describe(value)}", key) from error


def _set_any_value(target: Any, obj: Any, depth: int) -> None:
    if type(obj) is not dict:
        raise DecodeError(f"expected an object, got {describe(obj)}")
    if len(obj) != 1:
        target.SetInParent()  # an empty AnyValue is still a value
    for key, value in obj.items():
        if value is None:
            continue
        try:
            if key == "stringValue" or key == "string_value":
                target.string_value = value
            elif key == "intValue" or key == "int_value":
                target.int_value = value if type(value) is int else _parse_integer(value)
            elif key == "doubleValue" or key == "double_value":
                target.double_value = _parse_double(value)
            elif key == "boolValue" or key == "bool_value":
                if type(value) is not bool:
                    raise TypeError("not a boolean")
                target.bool_value = value
            elif key in ("arrayValue", "array_value", "kvlistValue", "kvlist_value"):
                if depth >= MAX_ANY_VALUE_DEPTH:
                    raise DecodeError(f"arrays and kvlists nested deeper than {MAX_ANY_VALUE_DEPTH} levels")
                is_array = key[0] == "a"
                holder = target.array_value if is_array else target.kvlist_value
                holder.SetInParent()
                _set_list_holder(holder, value, depth + 1, is_array)
            elif key == "bytesValue" or key == "bytes_value":
                target.bytes_value = _parse_base64(value)
            elif key == "stringValueStrindex" or key == "string_value_strindex":
                target.string_value_strindex = value if type(value) is int else _parse_integer(value)
        except DecodeError as error:
            error.path.append(key)
            raise
        except (TypeError, ValueError, OverflowError) as error:
            raise DecodeError(f"expected {_VALUE_EXPECTS[key]}, got {describe(value)}", key) from error


def _set_list_holder(holder: Any, obj: Any, depth: int, is_array: bool) -> None:
    """ArrayValue or KeyValueList: `{"values": [...]}`."""
    if type(obj) is not dict:
        raise DecodeError(f"expected an object, got {describe(obj)}")
    values = obj.get("values")
    if values is None:
        return
    try:
        if is_array:
            _set_any_values(holder.values, values, depth)
        else:
            _set_key_values(holder.values, values, depth)
    except DecodeError as error:
        error.path.append("values")
        raise


def _set_any_values(container: Any, items: Any, depth: int) -> None:
    if type(items) is not list:
        raise DecodeError(f"expected an array, got {describe(items)}")
    for index, item in enumerate(items):
        try:
            _set_any_value(container.add(), item, depth)
        except DecodeError as error:
            error.path.append(index)
            raise


def _set_key_values(container: Any, items: Any, depth: int = 0) -> None:
    # The hot loop: attributes are most of a span's decode time. An optimistic pass takes the
    # usual {"key": ..., "value": {"<one scalar>": ...}} shape (measured 20% faster); anything
    # else, or any error, starts over on the checked path, which also names the bad field.
    # The optimistic pass never recurses, so nested errors are not retried at every level.
    if type(items) is not list:
        raise DecodeError(f"expected an array, got {describe(items)}")
    add = container.add
    for index, item in enumerate(items):
        pair = add()
        if type(item) is dict and len(item) == 2:
            try:
                pair.key = item["key"]
                value = item["value"]
                if len(value) == 1:
                    for kind, scalar in value.items():
                        if kind == "stringValue":
                            pair.value.string_value = scalar
                        elif kind == "intValue":
                            pair.value.int_value = scalar if type(scalar) is int else _parse_integer(scalar)
                        elif kind == "boolValue" and type(scalar) is bool:
                            pair.value.bool_value = scalar
                        elif kind == "doubleValue" and type(scalar) is float:
                            pair.value.double_value = scalar
                        else:
                            break
                    else:
                        continue
            except Exception:
                pass
            pair.Clear()
        _set_key_value_checked(pair, item, depth, index)


def _set_key_value_checked(pair: Any, item: Any, depth: int, index: int) -> None:
    if type(item) is not dict:
        raise DecodeError(f"expected an object, got {describe(item)}", index)
    for key, value in item.items():
        if value is None:
            continue
        try:
            if key == "key":
                pair.key = value
            elif key == "value":
                _set_any_value(pair.value, value, depth)
            elif key == "keyStrindex" or key == "key_strindex":
                pair.key_strindex = value if type(value) is int else _parse_integer(value)
        except DecodeError as error:
            error.path += (key, index)
            raise
        except (TypeError, ValueError, OverflowError) as error:
            reason = f"expected {_VALUE_EXPECTS[key]}, got {describe(value)}"
            raise DecodeError(reason, key, index) from error


def _field_setter(field: FieldDescriptor) -> tuple[_Setter, str]:
    """A setter for one proto field, chosen by its type; nested tables come from `fields_for`."""
    name = field.name
    repeated = is_repeated(field)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message_type = field.message_type
        if message_type.full_name == KeyValue.DESCRIPTOR.full_name:
            return (lambda message, value: _set_key_values(getattr(message, name), value)), "an array"
        if message_type.full_name == AnyValue.DESCRIPTOR.full_name:
            return (lambda message, value: _set_any_value(getattr(message, name), value, 0)), "an object"
        nested = fields_for(message_type)
        if repeated:
            def set_messages(message: Any, value: Any) -> None:
                if type(value) is not list:
                    raise DecodeError(f"expected an array, got {describe(value)}")
                add = getattr(message, name).add
                for index, item in enumerate(value):
                    try:
                        fill(add(), item, nested)
                    except DecodeError as error:
                        error.path.append(index)
                        raise
            return set_messages, "an array"

        def set_message(message: Any, value: Any) -> None:
            target = getattr(message, name)
            target.SetInParent()  # present even when empty, as in the binary encoding
            fill(target, value, nested)
        return set_message, "an object"
    if repeated:  # only repeated strings occur in the trace protos (entity_refs.id_keys)
        def set_strings(message: Any, value: Any) -> None:
            if type(value) is not list:
                raise TypeError("not an array")
            getattr(message, name).extend(value)
        return set_strings, "an array of strings"
    if field.type == FieldDescriptor.TYPE_STRING:
        return (lambda message, value: setattr(message, name, value)), "a string"
    if field.type == FieldDescriptor.TYPE_BYTES:  # every bytes field of the trace protos is an id
        return (lambda message, value: setattr(message, name, _parse_hex(value))), "a hex string"
    if field.type == FieldDescriptor.TYPE_BOOL:
        def set_bool(message: Any, value: Any) -> None:
            if type(value) is not bool:
                raise TypeError("not a boolean")
            setattr(message, name, value)
        return set_bool, "true or false"
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return (lambda message, value: setattr(message, name, _parse_double(value))), "a number"
    if field.type == FieldDescriptor.TYPE_ENUM:
        # The Go collector accepts enum names as well as the integers the spec sends.
        by_name = {value.name: value.number for value in field.enum_type.values}
        expects = f"an integer or one of {', '.join(by_name)}"
        return (lambda message, value: setattr(
            message, name, value if type(value) is int else by_name[value])), expects
    return (lambda message, value: setattr(
        message, name, value if type(value) is int else _parse_integer(value))), "an integer"


_TABLES: dict[str, _Fields] = {}


def fields_for(descriptor: Descriptor) -> _Fields:
    table = _TABLES.get(descriptor.full_name)
    if table is None:
        table = _TABLES[descriptor.full_name] = {}
        for field in descriptor.fields:
            setter, expects = _field_setter(field)
            _EXPECTS[setter] = expects
            table[field.json_name] = setter  # lowerCamelCase, the spec's spelling
            table[field.name] = setter  # snake_case, which the Go collector also accepts
    return table
