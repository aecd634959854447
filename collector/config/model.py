"""The loaded, checked and typed collector config that the service is built from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from spanhouse.collector.auth.config import AuthSettings
from spanhouse.collector.core.component import Factory

LogLevel = Literal["debug", "info", "warn", "error"]


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    """One configured component: `otlp/internal` has type "otlp" and name "internal"."""

    id: str
    type: str
    name: str  # "" when the id is just the type
    factory: Factory
    config: Any  # an instance of factory.config_class
    line: int  # where the component is defined in the config file


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    id: str  # "traces" or "traces/<name>"
    receivers: tuple[str, ...]
    processors: tuple[str, ...]
    exporters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """The collector's own logs and Prometheus metrics (`service.telemetry`)."""

    logs_level: LogLevel = "info"
    metrics_address: str = "127.0.0.1:8888"
    metrics_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    path: Path  # as the user gave it
    config_dir: Path  # relative paths in component configs resolve against it
    receivers: dict[str, ComponentConfig]
    processors: dict[str, ComponentConfig]
    exporters: dict[str, ComponentConfig]
    extensions: dict[str, ComponentConfig]
    service_extensions: tuple[str, ...]  # the extensions to start, in order
    pipelines: dict[str, PipelineConfig]
    telemetry: TelemetryConfig
    shutdown_timeout_s: float = 30.0
    auth: AuthSettings | None = None  # None: no auth section, every request is tenant "default"
