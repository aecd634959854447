"""A JSON Schema (draft 2020-12) of collector.yaml, generated from the registered factories'
config dataclasses, for editors and for checking example configs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

from spanhouse.collector.auth.config import AuthSection
from spanhouse.collector.config.service import PipelineSection, ServiceSection
from spanhouse.collector.core.component import Kind
from spanhouse.collector.core.config.decode import has_default, marker_of, optional_of, type_hints
from spanhouse.collector.core.config.types import ADDRESS, BYTE_SIZE, DURATION, PATH, Marker, format_duration
from spanhouse.collector.registry import Registry

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# The same languages as collector.core.config.types parses.
DURATION_PATTERN: Final = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$"
BYTE_SIZE_PATTERN: Final = r"^\s*[0-9]+(\.[0-9]+)?\s*([KMGTkmgt][Ii]?[Bb]?|[Bb])?\s*$"
ADDRESS_PATTERN: Final = r"^.*:[0-9]{1,5}$"
# Any value may be written as an environment reference, resolved when the file is loaded.
ENV_REFERENCE_PATTERN: Final = r"\$\{env:[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"
_ENV_REFERENCE: Final = {"$ref": "#/$defs/env_reference"}


def build_schema(registry: Registry) -> dict[str, Any]:
    properties: dict[str, Any] = {kind.section: _section(registry, kind) for kind in Kind}
    properties["connectors"] = {
        "description": "Not supported by spanhouse; only an empty section is accepted.",
        "type": ["object", "null"],
        "maxProperties": 0,
    }
    properties["service"] = _service()
    properties["auth"] = dataclass_schema(AuthSection)
    properties["auth"]["description"] = "Bearer tokens, their tenants and scopes (docs/security.md)."
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "spanhouse collector configuration",
        "type": "object",
        "additionalProperties": False,
        "required": ["service"],
        "properties": properties,
        "$defs": {
            "env_reference": {
                "description": "${env:NAME} or ${env:NAME:-default}, replaced when the file is loaded.",
                "type": "string",
                "pattern": ENV_REFERENCE_PATTERN,
            }
        },
    }


def render_schema(registry: Registry) -> str:
    """The schema as stable text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(build_schema(registry), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(registry: Registry, path: Path) -> None:
    path.write_text(render_schema(registry), encoding="utf-8")


def _section(registry: Registry, kind: Kind) -> dict[str, Any]:
    components: dict[str, Any] = {}
    for factory in registry.factories(kind):
        schema = dataclass_schema(factory.config_class)
        if factory.description:
            schema["description"] = factory.description
        components[f"^{factory.type}(/.+)?$"] = schema
    return {
        "description": f"{kind.value.capitalize()}s by id: <type> or <type>/<name>.",
        "type": ["object", "null"],
        "additionalProperties": False,
        "patternProperties": components,
    }


def _service() -> dict[str, Any]:
    pipeline = dataclass_schema(PipelineSection)
    pipeline["type"] = "object"
    pipeline["required"] = ["exporters", "receivers"]
    for kind in ("receivers", "exporters"):
        pipeline["properties"][kind]["type"] = "array"
        pipeline["properties"][kind]["minItems"] = 1
    service = dataclass_schema(ServiceSection)
    service["type"] = "object"
    service["properties"]["pipelines"] = {
        "description": "Pipelines by id: traces or traces/<name>; spanhouse handles traces only.",
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "patternProperties": {"^traces(/.+)?$": pipeline},
    }
    return service


def dataclass_schema(cls: type[Any]) -> dict[str, Any]:
    """Schema of a config dataclass; null stands for "all defaults", as the loader reads it."""
    hints = type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        schema = type_schema(hints[field.name])
        if "description" in field.metadata:
            schema["description"] = field.metadata["description"]
        if has_default(field):
            default = _default_json(field, hints[field.name])
            if default is not _NO_DEFAULT:
                schema["default"] = default
        else:
            required.append(field.name)
        properties[field.name] = schema
    schema = {"type": ["object", "null"], "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = sorted(required)
    return schema


def type_schema(hint: Any) -> dict[str, Any]:
    """Schema of one field type, accepting what the loader's decoder accepts."""
    if hint is Any:
        return {}
    base, marker = marker_of(hint)
    if marker is not None:
        return _marked(marker)
    if base is not hint:
        return type_schema(base)
    inner = optional_of(hint)
    if inner is not None:
        return _nullable(type_schema(inner))
    origin = get_origin(hint)
    if origin is Literal:
        return {"anyOf": [{"enum": list(get_args(hint))}, _ENV_REFERENCE]}
    if origin in (list, tuple):
        return {"type": ["array", "null"], "items": type_schema(get_args(hint)[0])}
    if origin is dict:
        return {"type": ["object", "null"], "additionalProperties": type_schema(get_args(hint)[1])}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return dataclass_schema(hint)
    if hint is str:
        return {"type": "string"}
    json_types = {bool: "boolean", int: "integer", float: "number"}
    if hint in json_types:
        return {"anyOf": [{"type": json_types[hint]}, _ENV_REFERENCE]}
    raise TypeError(f"config field type {hint!r} is not supported")


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # Widening the type, rather than wrapping in anyOf, keeps a validator's errors on the
    # nested field that is wrong instead of on the whole optional section.
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
    elif "anyOf" in schema:
        schema["anyOf"] = [{"type": "null"}, *schema["anyOf"]]
    return schema


def _marked(marker: Marker) -> dict[str, Any]:
    if marker == DURATION:
        choices: list[dict[str, Any]] = [{"type": "string", "pattern": DURATION_PATTERN}, {"const": 0}]
    elif marker == BYTE_SIZE:
        choices = [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": BYTE_SIZE_PATTERN}]
    elif marker == ADDRESS:
        choices = [{"type": "string", "pattern": ADDRESS_PATTERN}]
    elif marker == PATH:
        return {"type": "string", "minLength": 1}
    else:
        raise TypeError(f"config marker {marker!r} has no schema")
    return {"anyOf": [*choices, _ENV_REFERENCE]}


class _NoDefault:
    __slots__ = ()


_NO_DEFAULT: Final = _NoDefault()


def _default_json(field: dataclasses.Field[Any], hint: Any) -> Any:
    """The field's default as the YAML would write it, or _NO_DEFAULT when it has no such form."""
    if field.default is not dataclasses.MISSING:
        value = field.default
    else:
        assert field.default_factory is not dataclasses.MISSING
        value = field.default_factory()
    if dataclasses.is_dataclass(value):
        return _NO_DEFAULT  # the nested properties carry their own defaults
    inner = optional_of(hint)
    if value is None and isinstance(inner, type) and dataclasses.is_dataclass(inner):
        return _NO_DEFAULT  # absent means off, yet a written null means on with defaults
    _, marker = marker_of(optional_of(hint) or hint)
    if marker == DURATION and isinstance(value, int | float):
        return format_duration(value)
    return _json_value(value)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        items = [_json_value(item) for item in value]
        return _NO_DEFAULT if any(item is _NO_DEFAULT for item in items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        entries = {key: _json_value(item) for key, item in value.items()}
        return _NO_DEFAULT if any(item is _NO_DEFAULT for item in entries.values()) else entries
    return _NO_DEFAULT
