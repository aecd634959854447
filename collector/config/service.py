"""The `service:` section: which extensions run, the traces pipelines and what they
reference, and the collector's own telemetry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from spanhouse.collector.config.model import LogLevel, PipelineConfig, TelemetryConfig
from spanhouse.collector.core.component import Kind
from spanhouse.collector.core.config.decode import INVALID, Decoder
from spanhouse.collector.core.config.document import ConfigDocument, YamlPath
from spanhouse.collector.core.config.types import ADDRESS, DURATION

_TRACES_PIPELINE_ID: Final = re.compile(r"traces(/.+)?")
_OTHER_SIGNAL_PIPELINE_ID: Final = re.compile(r"(metrics|logs|profiles)(/.*)?")


def _described(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True, slots=True)
class LogsSection:
    level: LogLevel = field(default="info", metadata=_described("Lowest level of the collector's own logs."))


@dataclass(frozen=True, slots=True)
class MetricsSection:
    address: Annotated[str, ADDRESS] = field(
        default="127.0.0.1:8888", metadata=_described("Where the collector serves GET /metrics (Prometheus).")
    )
    level: Literal["none", "basic", "normal", "detailed"] = field(
        default="basic", metadata=_described("none turns the collector's own metrics off.")
    )


@dataclass(frozen=True, slots=True)
class TelemetrySection:
    logs: LogsSection = field(default_factory=LogsSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)


@dataclass(frozen=True, slots=True)
class PipelineSection:
    receivers: tuple[str, ...] = field(default=(), metadata=_described("Receiver ids; at least one."))
    processors: tuple[str, ...] = field(default=(), metadata=_described("Processor ids, in order."))
    exporters: tuple[str, ...] = field(default=(), metadata=_described("Exporter ids; at least one."))


@dataclass(frozen=True, slots=True)
class ServiceSection:
    # Read pipeline by pipeline, since only `traces` pipelines are read further.
    pipelines: dict[str, Any] = field(metadata=_described("Pipelines by id: traces or traces/<name>."))
    extensions: tuple[str, ...] = field(default=(), metadata=_described("Extension ids to start."))
    telemetry: TelemetrySection = field(default_factory=TelemetrySection)
    shutdown_timeout: Annotated[float, DURATION] = field(
        default=30.0, metadata=_described("How long a stop may take to drain the pipelines.")
    )


@dataclass(frozen=True, slots=True)
class LoadedService:
    extensions: tuple[str, ...]
    pipelines: dict[str, PipelineConfig]
    telemetry: TelemetryConfig
    shutdown_timeout_s: float


_SERVICE_PATH: Final[YamlPath] = ("service",)


def load_service(
    document: ConfigDocument, decoder: Decoder, value: Any, configured: dict[Kind, list[str] | None]
) -> LoadedService | None:
    """The service section, with every reference checked against the `configured` ids."""
    if "service" not in document.root:
        document.report(_SERVICE_PATH, "missing (a config needs service.pipelines with a traces pipeline)")
        return None
    section = decoder.decode_dataclass(ServiceSection, value, _SERVICE_PATH)
    if section is INVALID:
        return None
    assert isinstance(section, ServiceSection)
    extensions_path = (*_SERVICE_PATH, "extensions")
    _check_references(document, extensions_path, Kind.EXTENSION, section.extensions, configured)
    pipelines = _load_pipelines(document, decoder, section.pipelines, configured)
    metrics = section.telemetry.metrics
    telemetry = TelemetryConfig(
        logs_level=section.telemetry.logs.level,
        metrics_address=metrics.address,
        metrics_enabled=metrics.level != "none",
    )
    return LoadedService(section.extensions, pipelines, telemetry, section.shutdown_timeout)


def _load_pipelines(
    document: ConfigDocument,
    decoder: Decoder,
    values: dict[str, Any],
    configured: dict[Kind, list[str] | None],
) -> dict[str, PipelineConfig]:
    pipelines_path = (*_SERVICE_PATH, "pipelines")
    if not values:
        document.report(pipelines_path, "at least one traces pipeline is required")
    pipelines: dict[str, PipelineConfig] = {}
    for pipeline_id, value in values.items():
        path = (*pipelines_path, pipeline_id)
        if _OTHER_SIGNAL_PIPELINE_ID.fullmatch(pipeline_id):
            document.report(path, "spanhouse handles traces only (use a traces pipeline)")
            continue
        if not _TRACES_PIPELINE_ID.fullmatch(pipeline_id):
            document.report(path, f'invalid pipeline id "{pipeline_id}" (expected traces or traces/<name>)')
            continue
        section = decoder.decode_dataclass(PipelineSection, value, path)
        if section is INVALID:
            continue
        assert isinstance(section, PipelineSection)
        for kind, ids in (
            (Kind.RECEIVER, section.receivers),
            (Kind.PROCESSOR, section.processors),
            (Kind.EXPORTER, section.exporters),
        ):
            if document.already_reported((*path, kind.section)):
                continue
            if not ids and kind is not Kind.PROCESSOR:
                document.report((*path, kind.section), f"a pipeline needs at least one {kind.value}")
            _check_references(document, (*path, kind.section), kind, ids, configured)
        pipelines[pipeline_id] = PipelineConfig(
            pipeline_id, section.receivers, section.processors, section.exporters
        )
    return pipelines


def _check_references(
    document: ConfigDocument,
    path: YamlPath,
    kind: Kind,
    ids: tuple[str, ...],
    configured: dict[Kind, list[str] | None],
) -> None:
    known = configured[kind]
    if known is None:
        return  # the section itself is broken and already reported
    seen: set[str] = set()
    for index, component_id in enumerate(ids):
        line = document.line((*path, index))
        if component_id in seen:
            document.report(path, f'{kind.value} "{component_id}" is listed twice', line)
        elif component_id not in known:
            listing = ", ".join(sorted(known)) or "none"
            document.report(
                path,
                f'references {kind.value} "{component_id}" which is not configured (configured: {listing})',
                line,
            )
        seen.add(component_id)
