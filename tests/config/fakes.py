"""Small component factories for config tests, shaped like the real ones but independent of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from spanhouse.collector.core.component import Endpoint, Factory, Kind
from spanhouse.collector.core.config.types import ADDRESS, BYTE_SIZE, DURATION, PATH
from spanhouse.collector.registry import Registry


def _create(*arguments: Any) -> Any:
    raise AssertionError("config tests never create components")


@dataclass(frozen=True, slots=True)
class GrpcSettings:
    endpoint: Annotated[str, ADDRESS] = "0.0.0.0:4317"
    max_recv_msg_size_mib: int = 4


@dataclass(frozen=True, slots=True)
class HttpSettings:
    endpoint: Annotated[str, ADDRESS] = "0.0.0.0:4318"
    traces_url_path: str = "/v1/traces"
    cors_allowed_origins: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Protocols:
    grpc: GrpcSettings | None = None
    http: HttpSettings | None = None


@dataclass(frozen=True, slots=True)
class OtlpReceiverConfig:
    protocols: Protocols = field(default_factory=Protocols)

    def validate(self) -> list[tuple[str, str]]:
        if self.protocols.grpc is None and self.protocols.http is None:
            return [("protocols", "enable at least one of grpc, http")]
        return []


def otlp_endpoints(config: OtlpReceiverConfig) -> list[Endpoint]:
    endpoints = []
    if config.protocols.grpc is not None:
        endpoints.append(Endpoint(config.protocols.grpc.endpoint, "grpc"))
    if config.protocols.http is not None:
        http = config.protocols.http
        endpoints.append(Endpoint(http.endpoint, "http", (f"POST {http.traces_url_path}",)))
    return endpoints


@dataclass(frozen=True, slots=True)
class ZipkinReceiverConfig:
    endpoint: Annotated[str, ADDRESS] = field(
        default="0.0.0.0:9411", metadata={"description": "Where Zipkin clients send spans."}
    )
    path: str = "/api/v2/spans"
    parse_string_tags: bool = False


def zipkin_endpoints(config: ZipkinReceiverConfig) -> list[Endpoint]:
    return [Endpoint(config.endpoint, "http", (f"POST {config.path}",))]


@dataclass(frozen=True, slots=True)
class BatchConfig:
    timeout: Annotated[float, DURATION] = field(
        default=0.2, metadata={"description": "How long a batch may wait before it is sent."}
    )
    send_batch_size: int = 8192
    send_batch_max_size: int = 0

    def validate(self) -> list[tuple[str, str]]:
        if 0 < self.send_batch_max_size < self.send_batch_size:
            message = f"must be 0 or at least send_batch_size ({self.send_batch_size})"
            return [("send_batch_max_size", message)]
        return []


@dataclass(frozen=True, slots=True)
class MemoryLimiterConfig:
    check_interval: Annotated[float, DURATION] = 1.0
    limit_mib: int = 0
    limit_percentage: int = 0

    def validate(self) -> list[tuple[str, str]]:
        if not self.limit_mib and not self.limit_percentage:
            return [("", "set limit_mib or limit_percentage")]
        return []


@dataclass(frozen=True, slots=True)
class AttributeAction:
    key: str
    action: Literal["insert", "update", "upsert", "delete"] = "upsert"
    value: str | None = None


@dataclass(frozen=True, slots=True)
class AttributesConfig:
    actions: list[AttributeAction] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def validate(self) -> list[tuple[str, str]]:
        return [
            (f"actions[{index}].value", f'required for action "{action.action}"')
            for index, action in enumerate(self.actions)
            if action.action != "delete" and action.value is None
        ]


@dataclass(frozen=True, slots=True)
class RetrySettings:
    enabled: bool = True
    initial_interval: Annotated[float, DURATION] = 5.0
    max_elapsed_time: Annotated[float, DURATION] = 300.0


@dataclass(frozen=True, slots=True)
class QueueSettings:
    directory: Annotated[str, PATH] = "./data/queue"
    max_size: Annotated[int, BYTE_SIZE] = 1024**3


@dataclass(frozen=True, slots=True)
class TableSettings:
    name: str
    ttl: Annotated[float, DURATION] = 0.0


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    endpoint: str = "tcp://127.0.0.1:9000"
    database: str = "otel"
    password: str = ""
    ttl: Annotated[float, DURATION] = 0.0
    create_schema: bool = True
    compression: Literal["none", "lz4", "zstd"] = "lz4"
    max_insert_size: Annotated[int, BYTE_SIZE] = 16 * 1024**2
    retry: RetrySettings = field(default_factory=RetrySettings)
    sending_queue: QueueSettings | None = None
    tables: dict[str, TableSettings] = field(default_factory=dict)
    ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class DebugConfig:
    verbosity: Literal["basic", "normal", "detailed"] = "basic"


@dataclass(frozen=True, slots=True)
class HealthCheckConfig:
    endpoint: Annotated[str, ADDRESS] = "0.0.0.0:13133"
    path: str = "/health"


def health_check_endpoints(config: HealthCheckConfig) -> list[Endpoint]:
    return [Endpoint(config.endpoint, "http", (f"GET {config.path}",))]


FACTORIES = (
    Factory("otlp", Kind.RECEIVER, OtlpReceiverConfig, _create, otlp_endpoints, "OTLP over gRPC and HTTP."),
    Factory("zipkin", Kind.RECEIVER, ZipkinReceiverConfig, _create, zipkin_endpoints),
    Factory("batch", Kind.PROCESSOR, BatchConfig, _create),
    Factory("memory_limiter", Kind.PROCESSOR, MemoryLimiterConfig, _create),
    Factory("attributes", Kind.PROCESSOR, AttributesConfig, _create),
    Factory("clickhouse", Kind.EXPORTER, ClickHouseConfig, _create),
    Factory("debug", Kind.EXPORTER, DebugConfig, _create),
    Factory("health_check", Kind.EXTENSION, HealthCheckConfig, _create, health_check_endpoints),
)


def fake_registry() -> Registry:
    return Registry(FACTORIES)
