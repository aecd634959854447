"""Typed reading of plain YAML values into a component's config dataclass, reporting every
wrong key and value at its line."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin, get_type_hints

from spanhouse.collector.core.config.document import ConfigDocument, YamlPath, describe
from spanhouse.collector.core.config.types import (
    ADDRESS,
    BYTE_SIZE,
    DURATION,
    PATH,
    Marker,
    parse_address,
    parse_byte_size,
    parse_duration,
)


class _Invalid:
    """What a decode returns once it has reported why the value cannot be used."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


def _parse_path(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a path")
    return value


_MARKER_PARSERS: Final[dict[Marker, Callable[[object], Any]]] = {
    DURATION: parse_duration,
    BYTE_SIZE: parse_byte_size,
    ADDRESS: parse_address,
    PATH: _parse_path,
}


_type_hints: dict[type[Any], dict[str, Any]] = {}


def type_hints(cls: type[Any]) -> dict[str, Any]:
    """Field types of a config dataclass, with `Annotated` markers kept."""
    if cls not in _type_hints:
        _type_hints[cls] = get_type_hints(cls, include_extras=True)
    return _type_hints[cls]


def marker_of(hint: Any) -> tuple[Any, Marker | None]:
    """`Annotated[float, DURATION]` -> `(float, DURATION)`; other hints -> `(hint, None)`."""
    if get_origin(hint) is not Annotated:
        return hint, None
    base, *extras = get_args(hint)
    marker = next((extra for extra in extras if isinstance(extra, Marker)), None)
    return base, marker


def optional_of(hint: Any) -> Any | None:
    """`X | None` -> `X`; None for any other hint. Other unions are not supported."""
    if get_origin(hint) not in (Union, types.UnionType):
        return None
    members = [arg for arg in get_args(hint) if arg is not type(None)]
    if len(members) != 1 or len(get_args(hint)) != 2:
        raise TypeError(f"config fields support `X | None` but no other union: {hint!r}")
    return members[0]


def has_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def _plain(choice: object) -> str:
    return choice if isinstance(choice, str) else describe(choice)


class Decoder:
    def __init__(self, document: ConfigDocument) -> None:
        self._document = document

    def decode(self, hint: Any, value: Any, path: YamlPath) -> Any:
        """`value` read as `hint`, or INVALID after reporting why it cannot be."""
        if self._document.already_reported(path):
            return INVALID
        if hint is Any:
            return value
        base, marker = marker_of(hint)
        if marker is not None:
            return self._marked(base, marker, value, path)
        if base is not hint:
            return self.decode(base, value, path)
        inner = optional_of(hint)
        if inner is not None:
            if value is None:
                # `grpc:` with no value means "enabled, with defaults", as in the OTLP receiver.
                is_dataclass = isinstance(inner, type) and dataclasses.is_dataclass(inner)
                return self.decode_dataclass(inner, {}, path) if is_dataclass else None
            return self.decode(inner, value, path)
        origin = get_origin(hint)
        if origin is Literal:
            return self._literal(get_args(hint), value, path)
        if origin in (list, tuple):
            return self._sequence(hint, value, path)
        if origin is dict:
            return self._dict(hint, value, path)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.decode_dataclass(hint, value, path)
        if hint in (bool, int, float, str):
            return self._scalar(hint, value, path)
        raise TypeError(f"config field type {hint!r} is not supported")

    def decode_dataclass(self, cls: type[Any], value: Any, path: YamlPath) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return self._wrong(path, f"expected a mapping, got {describe(value)}")
        fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
        for key in value:
            if key not in fields:
                expected = ", ".join(sorted(fields)) or "none"
                self._document.report((*path, key), f'unknown key "{key}" (expected one of: {expected})')
        hints = type_hints(cls)
        arguments: dict[str, Any] = {}
        complete = True
        for name, field in fields.items():
            if name not in value:
                if not has_default(field):
                    self._document.report(path, f'missing required key "{name}"')
                    complete = False
                continue
            decoded = self.decode(hints[name], value[name], (*path, name))
            if decoded is not INVALID:
                arguments[name] = decoded
            elif not has_default(field):
                complete = False
        if not complete:
            return INVALID
        try:
            return cls(**arguments)
        except (TypeError, ValueError) as error:
            return self._wrong(path, str(error))

    def _wrong(self, path: YamlPath, message: str) -> _Invalid:
        self._document.report_value(path, message)
        return INVALID

    def _marked(self, base: Any, marker: Marker, value: Any, path: YamlPath) -> Any:
        if base is str and value is not None and not isinstance(value, str | list | dict):
            # `endpoint: ${env:ENDPOINT}` set to "1:30" reads as the YAML 1.1 number 90.
            value = self._document.texts.get(path, str(value))
        try:
            return _MARKER_PARSERS[marker](value)
        except ValueError:
            article = "an" if marker.name[0] in "aeiou" else "a"
            expected = f"{article} {marker.name} like {marker.example}"
            return self._wrong(path, f"expected {expected}, got {describe(value)}")

    def _literal(self, choices: tuple[Any, ...], value: Any, path: YamlPath) -> Any:
        if any(value == choice and type(value) is type(choice) for choice in choices):
            return value
        expected = ", ".join(_plain(choice) for choice in choices)
        shown = f": {describe(value)}" if isinstance(value, list | dict) else f" {describe(value)}"
        return self._wrong(path, f"invalid value{shown} (expected one of: {expected})")

    def _sequence(self, hint: Any, value: Any, path: YamlPath) -> Any:
        arguments = get_args(hint)
        if get_origin(hint) is tuple and (len(arguments) != 2 or arguments[1] is not Ellipsis):
            raise TypeError(f"config fields support `tuple[X, ...]` but no fixed-size tuple: {hint!r}")
        if value is None:
            value = []
        if not isinstance(value, list):
            return self._wrong(path, f"expected a list, got {describe(value)}")
        items = [self.decode(arguments[0], item, (*path, index)) for index, item in enumerate(value)]
        if any(item is INVALID for item in items):
            return INVALID
        return tuple(items) if get_origin(hint) is tuple else items

    def _dict(self, hint: Any, value: Any, path: YamlPath) -> Any:
        key_type, value_type = get_args(hint)
        if key_type is not str:
            raise TypeError(f"config mappings must have string keys: {hint!r}")
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return self._wrong(path, f"expected a mapping, got {describe(value)}")
        entries = {key: self.decode(value_type, item, (*path, key)) for key, item in value.items()}
        if any(item is INVALID for item in entries.values()):
            return INVALID
        return entries

    def _scalar(self, hint: type[Any], value: Any, path: YamlPath) -> Any:
        if hint is bool:
            if isinstance(value, bool):
                return value
            return self._wrong(path, f"expected true or false, got {describe(value)}")
        if hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            return self._wrong(path, f"expected an integer, got {describe(value)}")
        if hint is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return self._wrong(path, f"expected a number, got {describe(value)}")
        if isinstance(value, str):
            return value
        if value is None or isinstance(value, list | dict):
            return self._wrong(path, f"expected a string, got {describe(value)}")
        # `version: 1.10` or `password: 0123` is meant as written, not as the number YAML reads.
        return self._document.texts.get(path, str(value))
