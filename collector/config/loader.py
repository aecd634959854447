"""Reads collector.yaml into a typed ServiceConfig, reporting every problem in the file at once."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from spanhouse.collector.auth.config import load_auth
from spanhouse.collector.config.collisions import check_endpoint_collisions
from spanhouse.collector.config.model import ComponentConfig, ServiceConfig
from spanhouse.collector.config.service import LoadedService, load_service
from spanhouse.collector.core.component import Factory, Kind
from spanhouse.collector.core.config.decode import INVALID, Decoder
from spanhouse.collector.core.config.document import ConfigDocument, YamlPath, describe, parse_document
from spanhouse.collector.core.config.errors import ConfigError, ConfigIssue
from spanhouse.collector.registry import Registry, UnknownComponentError

TOP_LEVEL_KEYS: Final = ("receivers", "processors", "exporters", "extensions", "service", "auth")
COMPONENT_ID: Final = re.compile(r"([a-z][a-z0-9_]*)(?:/(.+))?")
_RELATIVE_PATH_PART: Final = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def load_config(path: Path, registry: Registry, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """The config at `path`, or ConfigError listing everything wrong with it.

    `environ` (default: the process environment) supplies `${env:NAME}` references."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        issue = ConfigIssue(str(path), 0, "", f"cannot read the file: {error.strerror}")
        raise ConfigError([issue]) from None
    except UnicodeDecodeError as error:
        issue = ConfigIssue(str(path), 0, "", f"the file is not UTF-8 text: {error}")
        raise ConfigError([issue]) from None
    return load_config_text(text, str(path), registry, environ, config_dir=path.absolute().parent)


def load_config_text(
    text: str,
    filename: str,
    registry: Registry,
    environ: Mapping[str, str] | None = None,
    *,
    config_dir: Path | None = None,
) -> ServiceConfig:
    """As `load_config`, from text; `filename` is what error messages show."""
    document = parse_document(text, filename, os.environ if environ is None else environ)
    if not isinstance(document.root, dict):
        raise ConfigError(document.issues)
    root: dict[str, Any] = document.root
    _check_top_level_keys(document, root)
    decoder = Decoder(document)
    configured: dict[Kind, list[str] | None] = {}
    components: dict[Kind, dict[str, ComponentConfig]] = {}
    for kind in Kind:
        configured[kind], components[kind] = _load_section(document, decoder, registry, kind, root)
    service = load_service(document, decoder, root.get("service"), configured)
    directory = config_dir if config_dir is not None else Path(filename).absolute().parent
    auth = load_auth(document, decoder, root.get("auth"), directory)
    if service is not None:
        check_endpoint_collisions(document, _listeners(components, service), service.telemetry)
    if document.issues or service is None:
        raise ConfigError(document.issues)
    return ServiceConfig(
        path=Path(filename),
        config_dir=directory,
        receivers=components[Kind.RECEIVER],
        processors=components[Kind.PROCESSOR],
        exporters=components[Kind.EXPORTER],
        extensions=components[Kind.EXTENSION],
        service_extensions=service.extensions,
        pipelines=service.pipelines,
        telemetry=service.telemetry,
        shutdown_timeout_s=service.shutdown_timeout_s,
        auth=auth,
    )


def _check_top_level_keys(document: ConfigDocument, root: dict[str, Any]) -> None:
    for key, value in root.items():
        if key in TOP_LEVEL_KEYS:
            continue
        if key == "connectors":
            # The Go collector's way to join pipelines; spanhouse joins them by sharing
            # receivers and exporters instead, so only an empty section is accepted.
            if value:
                document.report((key,), "spanhouse does not support connectors (share receivers instead)")
            continue
        expected = ", ".join(sorted(TOP_LEVEL_KEYS))
        document.report((key,), f'unknown key "{key}" (expected one of: {expected})')


def _load_section(
    document: ConfigDocument, decoder: Decoder, registry: Registry, kind: Kind, root: dict[str, Any]
) -> tuple[list[str] | None, dict[str, ComponentConfig]]:
    """Every id written in the section (None when it is not a mapping), and the components
    among them that are valid."""
    value = root.get(kind.section)
    if value is None:
        return [], {}
    if not isinstance(value, dict):
        expected = f"a mapping of {kind.value} ids to their settings"
        document.report((kind.section,), f"expected {expected}, got {describe(value)}")
        return None, {}
    loaded: dict[str, ComponentConfig] = {}
    for component_id, settings in value.items():
        path = (kind.section, component_id)
        match = COMPONENT_ID.fullmatch(component_id)
        if match is None:
            document.report(
                path,
                f'invalid {kind.value} id "{component_id}" '
                "(expected <type> or <type>/<name>, the type in lowercase letters, digits and _)",
            )
            continue
        try:
            factory = registry.get(kind, match.group(1))
        except UnknownComponentError as error:
            document.report(path, error.message)
            continue
        component = _load_component(document, decoder, factory, path, settings, match.group(2) or "")
        if component is not None:
            loaded[component_id] = component
    return list(value), loaded


def _load_component(
    document: ConfigDocument, decoder: Decoder, factory: Factory, path: YamlPath, settings: Any, name: str
) -> ComponentConfig | None:
    issues_before = len(document.issues)
    config = decoder.decode_dataclass(factory.config_class, settings, path)

    def still_valid() -> bool:
        return len(document.issues) == issues_before and not document.reported_under(path)

    if config is INVALID or not still_valid():
        return None
    validate = getattr(config, "validate", None)
    if callable(validate):
        # Only once every field has been read, so that its rules see the values as written.
        for relative, message in validate():
            document.report((*path, *parse_relative_path(relative)), message)
        if not still_valid():
            return None
    component_id = str(path[1])
    return ComponentConfig(component_id, factory.type, name, factory, config, document.line(path))


def parse_relative_path(dotted: str) -> YamlPath:
    """`"protocols.grpc.endpoint"` or `"actions[1].key"` as a path; "" is the component itself."""
    return tuple(
        int(match.group(2)) if match.group(2) is not None else match.group(1)
        for match in _RELATIVE_PATH_PART.finditer(dotted)
    )


def _listeners(
    components: dict[Kind, dict[str, ComponentConfig]], service: LoadedService
) -> Iterator[tuple[YamlPath, ComponentConfig]]:
    """The receivers and extensions the service will actually start."""
    receivers = components[Kind.RECEIVER]
    used = dict.fromkeys(
        receiver for pipeline in service.pipelines.values() for receiver in pipeline.receivers
    )
    for receiver_id in used:
        if receiver_id in receivers:
            yield (Kind.RECEIVER.section, receiver_id), receivers[receiver_id]
    extensions = components[Kind.EXTENSION]
    for extension_id in dict.fromkeys(service.extensions):
        if extension_id in extensions:
            yield (Kind.EXTENSION.section, extension_id), extensions[extension_id]
