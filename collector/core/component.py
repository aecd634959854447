"""The interfaces every pipeline stage implements, and the factory that builds one."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.collector.core.status import StatusBoard
from spanhouse.collector.core.storage import StorageClient

# The one unit that flows between stages: OTLP's "a bunch of resource spans"
# (the Go collector's ptrace.Traces). Serialisable as is for queues and forwarding.
Traces = ExportTraceServiceRequest


def span_count(traces: Traces) -> int:
    """Number of spans in `traces`; cost is per scope, not per span."""
    return sum(len(scope.spans) for resource in traces.resource_spans for scope in resource.scope_spans)


class Kind(StrEnum):
    RECEIVER = "receiver"
    PROCESSOR = "processor"
    EXPORTER = "exporter"
    EXTENSION = "extension"

    @property
    def section(self) -> str:
        """The top-level key of collector.yaml that holds components of this kind."""
        return self.value + "s"


@runtime_checkable
class Consumer(Protocol):
    """The one interface between stages. Returning means the data is safely handed on;
    raising a `spanhouse.collector.core.errors` error means it was not, and the caller answers its sender.

    A consumer that modifies the traces it is handed declares `mutates_data = True` (otelcol's
    `consumer.Capabilities{MutatesData}`); the fan-out then gives it its own copy whenever the
    same traces also go elsewhere. Without the declaration a consumer must only read them."""

    async def consume(self, traces: Traces) -> None: ...


def mutates_data(consumer: object) -> bool:
    """Whether `consumer` declared that it modifies what it consumes; undeclared means it does not."""
    return getattr(consumer, "mutates_data", False) is True


class Host(Protocol):
    """What a started component may reach of the running service."""

    @property
    def telemetry(self) -> Any: ...  # collector.core.metrics.Metrics

    @property
    def http_servers(self) -> Any: ...  # collector.server.http_host.HttpServers

    def report_fatal_error(self, error: BaseException) -> None: ...

    def storage(self, name: str | None = None) -> StorageClient:
        """The client of the exporter `name` that provides storage (the first one without a
        name); collector.core.storage.NoStorageError when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class CreateSettings:
    """Everything a factory needs beside the config."""

    component_id: str
    # Directory of the config file: relative paths in a config resolve against it.
    config_dir: Path = field(default_factory=Path.cwd)
    telemetry: Any = None  # collector.core.metrics.Metrics
    # Where the component reports "degraded: <reason>" for the health check; one per service.
    status: StatusBoard = field(default_factory=StatusBoard)
    # Span attributes that the service's receivers declare as holding user content (prompts,
    # responses, tool output; Factory.content_attributes), for processors that scan content.
    content_attributes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A listening address a receiver or extension claims, with the routes it serves there,
    so that the config check can find two components colliding on one port."""

    address: str  # host:port
    protocol: str  # "http" or "grpc"
    routes: tuple[str, ...] = ()  # "POST /v1/traces"; empty means the whole port


@dataclass(frozen=True, slots=True)
class Factory:
    """Type name, default config and constructor of a component. What `create` makes has
    `async start(host)` and `async shutdown()`: no I/O before `start`; `shutdown` is
    idempotent and safe before `start`."""

    type: str
    kind: Kind
    config_class: builtins.type[Any]
    # receivers: create(settings, config, next_consumer); processors the same;
    # exporters and extensions: create(settings, config).
    create: Callable[..., Any]
    # Addresses the component will listen on, for collision checks (receivers, extensions).
    endpoints: Callable[[Any], list[Endpoint]] = field(default=lambda config: [])
    description: str = ""
    # Receivers: attributes of the spans they make that hold user content, beyond the GenAI
    # conventions (a vendor's own names); the service hands them to every component it creates.
    content_attributes: tuple[str, ...] = ()
