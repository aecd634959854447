"""The `otlp` receiver: OTLP over gRPC and HTTP into the pipeline."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from spanhouse.collector.core.component import Consumer, CreateSettings, Endpoint, Factory, Host, Kind
from spanhouse.collector.receivers.otlp.config import OtlpReceiverConfig
from spanhouse.collector.receivers.otlp.grpc import GrpcServer, TraceService
from spanhouse.collector.server.fd_budget import budget_of
from spanhouse.collector.server.guard import RequestGuard
from spanhouse.collector.server.listener import ListenerSettings
from spanhouse.collector.server.otlp_http import OtlpHttpHandler, not_traces_handler
from spanhouse.collector.server.retry_dedup import RetryDedup
from spanhouse.collector.server.telemetry import ReceiverCounters
from spanhouse.collector.server.tls import grpc_server_credentials, server_ssl_context

logger = logging.getLogger(__name__)


class OtlpReceiver:
    def __init__(self, settings: CreateSettings, config: OtlpReceiverConfig, next_consumer: Consumer) -> None:
        self._settings = settings
        self._config = config
        self._next = next_consumer
        self._grpc: GrpcServer | None = None
        self._retries: RetryDedup | None = None

    async def start(self, host: Host) -> None:
        name = self._settings.component_id
        protocols = self._config.protocols
        limits = self._config.limits
        config_dir = self._settings.config_dir
        # One window for both transports: keys name the route, so they never meet.
        retries = self._retries = RetryDedup.for_receiver(self._config.retry_dedup, config_dir, name, host.telemetry)
        await retries.start()
        if protocols.http is not None:
            http = protocols.http
            handler = OtlpHttpHandler(self._next, http.max_request_body_size,
                                      ReceiverCounters.create(host.telemetry, name, "http"),
                                      RequestGuard.create(host, limits, name), retries)
            listener = ListenerSettings(server_ssl_context(http.tls, config_dir) if http.tls else None,
                                        limits.header_read_timeout, limits.max_connections, limits.body_read_timeout)
            host.http_servers.add_route(http.endpoint, "POST", http.traces_url_path, handler.handle, name, listener)
            for signal in ("metrics", "logs"):
                host.http_servers.add_route(http.endpoint, "POST", f"/v1/{signal}",
                                            _not_traces(signal), name)
        if protocols.grpc is not None:
            grpc_config = protocols.grpc
            service = TraceService(self._next, ReceiverCounters.create(host.telemetry, name, "grpc"),
                                   RequestGuard.create(host, limits, name), retries)
            credentials = grpc_server_credentials(grpc_config.tls, config_dir) if grpc_config.tls else None
            self._grpc = GrpcServer(grpc_config.endpoint, grpc_config.max_recv_msg_size_mib, service,
                                    credentials, limits, budget_of(host).cap(limits.max_connections))
            await self._grpc.start()
            logger.info("listening on grpc://%s for %s", grpc_config.endpoint, name)

    async def shutdown(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop()
            self._grpc = None
        if self._retries is not None:
            await self._retries.shutdown()


def _not_traces(signal: str) -> Any:
    async def handle(request: web.Request) -> web.Response:
        return not_traces_handler(signal)
    return handle


def _endpoints(config: OtlpReceiverConfig) -> list[Endpoint]:
    endpoints = []
    if config.protocols.grpc is not None:
        endpoints.append(Endpoint(config.protocols.grpc.endpoint, "grpc"))
    if config.protocols.http is not None:
        http = config.protocols.http
        endpoints.append(Endpoint(http.endpoint, "http",
                                  (f"POST {http.traces_url_path}", "POST /v1/metrics", "POST /v1/logs")))
    return endpoints


def _create(settings: CreateSettings, config: Any, next_consumer: Consumer) -> OtlpReceiver:
    return OtlpReceiver(settings, config, next_consumer)


FACTORY = Factory(type="otlp", kind=Kind.RECEIVER, config_class=OtlpReceiverConfig, create=_create,
                  endpoints=_endpoints, description="OTLP over gRPC (4317) and HTTP (4318).")
