"""Builds the pipelines of a loaded config and runs their lifecycle.

Start order: extensions, exporters, processors, receivers, then the HTTP listeners; stop in
the reverse order so that every stage drains into a stage that is still running."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field, replace
from typing import Any

from spanhouse.collector.auth import Authenticator
from spanhouse.collector.config.model import ComponentConfig, ServiceConfig
from spanhouse.collector.core.component import Consumer, CreateSettings, mutates_data
from spanhouse.collector.core.metrics import Metrics, register_process_metrics
from spanhouse.collector.core.status import StatusBoard
from spanhouse.collector.core.storage import StorageClient, StorageProvider, choose_storage
from spanhouse.collector.exposure import warn_if_exposed_without_auth
from spanhouse.collector.fanout import Declared, fan_out
from spanhouse.collector.server.fd_budget import UNLIMITED, ConnectionBudget
from spanhouse.collector.server.guard import TokenRateLimits
from spanhouse.collector.server.http_host import HttpServers
from spanhouse.collector.sql_command import QuerySockets
from spanhouse.collector.telemetry.server import DEFAULT_SETTINGS as METRICS_LISTENER
from spanhouse.collector.telemetry.server import MetricsServer
from spanhouse.exporters.queue.sending_queue import QueuedExporter

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RunningHost:
    """What components see of the running service (collector.core.component.Host)."""

    telemetry: Metrics
    http_servers: HttpServers = field(default_factory=HttpServers)
    ready: bool = False
    fatal_errors: asyncio.Queue[BaseException] = field(default_factory=asyncio.Queue)
    # The exporters that provide storage, by id, in config order (collector.core.storage).
    storage_providers: dict[str, StorageProvider] = field(default_factory=dict)
    # Checks bearer tokens for every receiver and read route (collector.auth.authenticate).
    auth: Authenticator = field(default_factory=lambda: Authenticator(None))
    token_rate_limits: TokenRateLimits = field(default_factory=TokenRateLimits)
    # How many connections each listener may hold (collector.server.fd_budget).
    connection_budget: ConnectionBudget = UNLIMITED

    def storage(self, name: str | None = None) -> StorageClient:
        """The storage client of exporter `name` (the first that provides one without a name),
        for the read side and side-table writers; NoStorageError without one."""
        return choose_storage(self.storage_providers, name)

    def report_fatal_error(self, error: BaseException) -> None:
        self.fatal_errors.put_nowait(error)


class Service:
    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.status = StatusBoard()  # what components report as degraded, for the health check
        self.host: RunningHost | None = None
        self._extensions: list[Any] = []
        self._exporters: dict[str, Any] = {}
        self._processors: list[Any] = []  # in start order: last stage of each pipeline first
        self._receivers: dict[str, Any] = {}
        self._metrics_server: MetricsServer | None = None
        self._query_sockets = QuerySockets()
        self._started = False
        self._stopped = False

    def _settings(self, component: ComponentConfig) -> CreateSettings:
        # What the configured receivers declare as user content (Factory.content_attributes).
        content = frozenset(name for receiver in self.config.receivers.values()
                            for name in receiver.factory.content_attributes)
        return CreateSettings(component.id, self.config.config_dir, self.metrics, self.status, content)

    def _build(self) -> None:
        config = self.config
        for extension_id in config.service_extensions:
            component = config.extensions[extension_id]
            self._extensions.append(component.factory.create(self._settings(component), component.config))
        pipeline_heads: dict[str, Consumer] = {}
        for pipeline in config.pipelines.values():
            for exporter_id in pipeline.exporters:
                if exporter_id not in self._exporters:
                    component = config.exporters[exporter_id]
                    self._exporters[exporter_id] = component.factory.create(
                        self._settings(component), component.config)
            consumer = fan_out([self._exporters[exporter_id] for exporter_id in pipeline.exporters])
            mutates = mutates_data(consumer)
            # Processors are instantiated per pipeline, as in the OpenTelemetry Collector.
            for processor_id in reversed(pipeline.processors):
                component = config.processors[processor_id]
                processor = component.factory.create(self._settings(component), component.config, consumer)
                self._processors.append(processor)
                mutates = mutates or mutates_data(processor)
                consumer = processor
            # The pipeline modifies data if any of its stages does: the receiver's fan-out copies for it.
            pipeline_heads[pipeline.id] = consumer if mutates_data(consumer) == mutates else Declared(consumer, mutates)
        for receiver_id, component in config.receivers.items():
            heads = [pipeline_heads[p.id] for p in config.pipelines.values() if receiver_id in p.receivers]
            if heads:
                self._receivers[receiver_id] = component.factory.create(
                    self._settings(component), component.config, fan_out(heads))

    def receiver(self, receiver_id: str) -> Any:
        return self._receivers[receiver_id]

    def exporter(self, exporter_id: str) -> Any:
        return self._exporters[exporter_id]

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        register_process_metrics(self.metrics)
        budget = ConnectionBudget.measure(_listener_count(self.config))
        logger.info("connections: %s", budget.describe())
        host = self.host = RunningHost(self.metrics, HttpServers(budget, self.metrics),
                                       auth=Authenticator(self.config.auth),
                                       connection_budget=budget)
        warn_if_exposed_without_auth(self.config)
        self._build()
        host.storage_providers = _storage_providers(self._exporters)
        telemetry = self.config.telemetry
        if telemetry.metrics_enabled:
            metrics_settings = replace(METRICS_LISTENER, max_connections=budget.cap(METRICS_LISTENER.max_connections))
            self._metrics_server = MetricsServer(telemetry.metrics_address, self.metrics, metrics_settings,
                                                 budget.backlog)
            await self._metrics_server.start()
        for component in [*self._extensions, *self._exporters.values(), *self._processors,
                          *self._receivers.values()]:
            await component.start(host)
        # `spanhouse sql` asks the collector that holds an embedded engine, on a socket beside it.
        await self._query_sockets.start(host.storage_providers)
        await host.http_servers.start()
        host.ready = True
        logger.info("spanhouse is ready: %d pipeline(s), receivers %s, exporters %s%s",
                    len(self.config.pipelines), ", ".join(self._receivers), ", ".join(self._exporters),
                    self._advertised_urls())

    def _advertised_urls(self) -> str:
        """The URLs of the extensions that serve people (the query_api's viewer and read API),
        each as "; NAME URL", so that the ready line says where to look."""
        parts = [f"{name} {url}" for extension in self._extensions
                 for name, url in (getattr(extension, "urls", None) or {}).items()]
        return "".join(f"; {part}" for part in parts)

    async def shutdown(self) -> None:
        """Stop accepting, drain every stage, close the stores. Safe twice and before start."""
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        host = self.host
        assert host is not None
        host.ready = False
        await host.http_servers.stop()
        await self._query_sockets.stop()
        stages = [*self._receivers.values(), *reversed(self._processors), *self._exporters.values()]
        for component in stages:
            try:
                await component.shutdown()
            except Exception:
                logger.exception("error while stopping a component")
        if self._metrics_server is not None:
            await self._metrics_server.stop()
        for extension in reversed(self._extensions):
            try:
                await extension.shutdown()
            except Exception:
                logger.exception("error while stopping an extension")
        logger.info("spanhouse stopped")

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Start, wait for SIGTERM/SIGINT (or `stop`), drain within shutdown_timeout. Exit code."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        code = 0
        try:
            await self.start()
            assert self.host is not None
            # What starting made (modules, config, components) lives as long as the process:
            # frozen out of the cycle collector, whose passes would otherwise walk it again and
            # again while requests allocate (measured: OTLP/JSON decoding 18.8 -> 16.4 us/span).
            gc.freeze()
            fatal = asyncio.ensure_future(self.host.fatal_errors.get())
            stopped = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fatal, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if fatal in done:
                logger.error("fatal error, stopping: %s", fatal.result())
                code = 1
            for future in (fatal, stopped):
                future.cancel()
        finally:
            logger.info("stopping: draining pipelines (timeout %.0fs)", self.config.shutdown_timeout_s)
            try:
                await asyncio.wait_for(self.shutdown(), self.config.shutdown_timeout_s)
            except TimeoutError:
                logger.error("shutdown did not finish within %.0fs", self.config.shutdown_timeout_s)
                code = 1
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        return code


def _storage_providers(exporters: dict[str, Any]) -> dict[str, StorageProvider]:
    """The exporters that declare they provide storage, looked up behind their sending queue."""
    providers: dict[str, StorageProvider] = {}
    for exporter_id, exporter in exporters.items():
        component = exporter.inner if isinstance(exporter, QueuedExporter) else exporter
        if isinstance(component, StorageProvider):
            providers[exporter_id] = component
    return providers


def _listener_count(config: ServiceConfig) -> int:
    """Distinct addresses the service listens on: every receiver's and extension's, and metrics."""
    addresses = {config.telemetry.metrics_address} if config.telemetry.metrics_enabled else set()
    for components in (config.receivers, config.extensions):
        for component in components.values():
            addresses.update(endpoint.address for endpoint in component.factory.endpoints(component.config))
    return len(addresses)
