"""Configuration of the `otlp` receiver (same keys as the OpenTelemetry Collector's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final

from spanhouse.collector.core.config.types import ADDRESS, BYTE_SIZE
from spanhouse.collector.server.limits import DEFAULT_MAX_REQUEST_BODY_BYTES, InputLimits
from spanhouse.collector.server.retry_dedup import RetryDedupConfig
from spanhouse.collector.server.tls import TlsConfig

DEFAULT_GRPC_ENDPOINT: Final = "127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT: Final = "127.0.0.1:4318"


@dataclass(frozen=True, slots=True)
class GrpcConfig:
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_GRPC_ENDPOINT, metadata={
        "description": "host:port the gRPC server listens on."})
    max_recv_msg_size_mib: int = field(default=4, metadata={
        "description": "Largest message accepted, in MiB (after decompression)."})
    tls: TlsConfig | None = field(default=None, metadata={
        "description": "Serve TLS (mutual TLS with client_ca_file); off by default."})

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if self.max_recv_msg_size_mib <= 0:
            problems.append(("max_recv_msg_size_mib", "must be greater than 0"))
        if self.tls is not None and self.tls.min_version != "1.2":
            problems.append(("tls.min_version", "grpc servers accept TLS 1.2 and later; only 1.2 can be set"))
        return problems


@dataclass(frozen=True, slots=True)
class HttpConfig:
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_HTTP_ENDPOINT, metadata={
        "description": "host:port the HTTP server listens on."})
    traces_url_path: str = field(default="/v1/traces", metadata={
        "description": "Path that takes OTLP trace exports."})
    max_request_body_size: Annotated[int, BYTE_SIZE] = field(default=DEFAULT_MAX_REQUEST_BODY_BYTES, metadata={
        "description": "Largest request body accepted, before and after decompression."})
    tls: TlsConfig | None = field(default=None, metadata={
        "description": "Serve HTTPS (mutual TLS with client_ca_file); off by default."})

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if not self.traces_url_path.startswith("/"):
            problems.append(("traces_url_path", 'must start with "/"'))
        if self.max_request_body_size <= 0:
            problems.append(("max_request_body_size", "must be greater than 0"))
        return problems


@dataclass(frozen=True, slots=True)
class Protocols:
    grpc: GrpcConfig | None = field(default=None, metadata={
        "description": "Enables OTLP over gRPC (an empty value takes the defaults)."})
    http: HttpConfig | None = field(default=None, metadata={
        "description": "Enables OTLP over HTTP (an empty value takes the defaults)."})


@dataclass(frozen=True, slots=True)
class OtlpReceiverConfig:
    protocols: Protocols = field(default_factory=Protocols, metadata={
        "description": "The transports to serve; at least one."})
    limits: InputLimits = field(default_factory=InputLimits, metadata={
        "description": "Limits on every request and connection (docs/security.md)."})
    retry_dedup: RetryDedupConfig = field(default_factory=RetryDedupConfig, metadata={
        "description": "A request re-sent unchanged by the same tenant within the window is answered as "
                       "the first time and stored once (docs/retries.md)."})

    def validate(self) -> list[tuple[str, str]]:
        problems = [(f"limits.{key}", message) for key, message in self.limits.validate()]
        problems += [(f"retry_dedup.{key}", message) for key, message in self.retry_dedup.validate()]
        # The loader calls validate() on the component config only, so nested ones are called here.
        for name, protocol in (("grpc", self.protocols.grpc), ("http", self.protocols.http)):
            if protocol is not None:
                problems += [(f"protocols.{name}.{key}", message) for key, message in protocol.validate()]
        if self.protocols.grpc is None and self.protocols.http is None:
            problems.append(("protocols", "must enable at least one of grpc, http"))
        return problems
