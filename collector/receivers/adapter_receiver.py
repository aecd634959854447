"""The receiver that serves an adapter plugin's routes: it owns HTTP (body limits,
decompression, JSON decoding), state and backpressure; the adapter owns the vendor's shape.

Errors reach the client in the vendor's documented error shape, never as a 500; spans reach
the pipeline before the adapter's answer is sent, so a success means the spans were taken."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web

from adapters.base import (
    Adapter,
    AdapterPlugin,
    AdapterReceiverConfig,
    AdapterRequest,
    AdapterResponse,
    Route,
    ServiceRoute,
    StateWrite,
)
from collector.component import Consumer, CreateSettings, Endpoint, Factory, Host, Kind, Traces, span_count
from collector.errors import PermanentError, PipelineError, UnsupportedMediaTypeError, classify
from collector.receivers.body import read_decoded_body
from collector.receivers.state_store import StateStore
from collector.receivers.telemetry import ReceiverCounters

logger = logging.getLogger(__name__)

ERROR_CODES: Final = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                      413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited",
                      503: "unavailable"}


class AdapterReceiver:
    def __init__(self, settings: CreateSettings, config: AdapterReceiverConfig, next_consumer: Consumer,
                 plugin: AdapterPlugin) -> None:
        self._settings = settings
        self._config = config
        self._next = next_consumer
        self._plugin = plugin
        self._adapter: Adapter = plugin.create(config)
        state_file = settings.config_dir / config.state_directory / (settings.component_id.replace("/", "_")
                                                                     + ".sqlite3")
        self._state = StateStore(state_file, config.state_ttl)
        self._counters = ReceiverCounters.create(None, settings.component_id, "http")
        self._translation_failures_logged = False
        self._host: Host | None = None
        self._http_client: aiohttp.ClientSession | None = None

    async def start(self, host: Host) -> None:
        self._host = host
        self._counters = ReceiverCounters.create(host.telemetry, self._settings.component_id, "http")
        self._state.open()
        for route in self._adapter.routes:
            host.http_servers.add_route(self._config.endpoint, route.method, route.path, self._handler(route),
                                        self._settings.component_id)

    async def shutdown(self) -> None:
        self._state.close()
        if self._http_client is not None:
            await self._http_client.close()
            self._http_client = None

    def _handler(self, route: Route | ServiceRoute) -> Any:
        if isinstance(route, ServiceRoute):
            async def handle_service(request: web.Request) -> web.StreamResponse:
                return await self._serve_with_services(route, request)
            return handle_service

        async def handle(request: web.Request) -> web.Response:
            return await self._serve(route, request)
        return handle

    # ---- Services, for routes that need I/O ------------------------------------------

    @property
    def state(self) -> StateStore:
        return self._state

    async def consume(self, traces: Traces) -> None:
        count = span_count(traces)
        if not count:
            return
        try:
            await self._next.consume(traces)
        except Exception:
            self._counters.refused.add(count)
            raise
        self._counters.accepted.add(count)

    async def write_state(self, writes: Sequence[StateWrite]) -> None:
        await self._state.apply(writes)

    def clickhouse(self) -> Any:
        finder = getattr(self._host, "clickhouse", None)
        return finder() if finder is not None else None

    def http_client(self) -> aiohttp.ClientSession:
        if self._http_client is None:
            self._http_client = aiohttp.ClientSession()
        return self._http_client

    def now_ns(self) -> int:
        return time.time_ns()

    async def _serve_with_services(self, route: ServiceRoute, request: web.Request) -> web.StreamResponse:
        raw = b""
        body: Any = None
        try:
            if route.json_body:
                raw = await read_decoded_body(request, self._config.max_request_body_size)
                body = _decode_json(raw, request.content_type)
        except PipelineError as error:
            return self._error(error)
        adapter_request = self._adapter_request(request, body)
        try:
            answer = await route.handle(adapter_request, raw, self)
        except PipelineError as error:  # the pipeline refused (429/503) or the input was bad
            return self._error(error)
        if isinstance(answer, AdapterResponse):
            return _to_web(answer)
        return answer  # type: ignore[no-any-return]

    def _adapter_request(self, request: web.Request, body: Any) -> AdapterRequest:
        return AdapterRequest(
            method=request.method, path=request.path, path_params=dict(request.match_info),
            query=dict(request.query), headers={key.lower(): value for key, value in request.headers.items()},
            body=body, tenant="default", received_at_ns=time.time_ns())

    def _error(self, error: BaseException) -> web.Response:
        answer = classify(error)
        code = ERROR_CODES.get(answer.http_status, "error")
        return _to_web(self._adapter.error_response(answer.http_status, code, answer.message, answer.retry_after_s),
                       answer.retry_after_s)

    async def _serve(self, route: Route, request: web.Request) -> web.Response:
        body: Any = None
        if route.json_body:
            try:
                raw = await read_decoded_body(request, self._config.max_request_body_size)
                body = _decode_json(raw, request.content_type)
            except PipelineError as error:
                return self._error(error)
        adapter_request = self._adapter_request(request, body)
        try:
            result = route.handle(adapter_request, self._state)
        except Exception as error:
            # An adapter that raises met input its validation missed: the sender's request is
            # what cannot be translated, so it gets a 400, and we log it once to fix the adapter.
            if not self._translation_failures_logged:
                self._translation_failures_logged = True
                logger.exception("receiver %s: adapter failed on a request", self._settings.component_id)
            return self._error(PermanentError(f"the request could not be translated: {error}"))
        traces = result.traces
        count = span_count(traces) if traces is not None else 0
        if count:
            assert traces is not None
            try:
                await self._next.consume(traces)
            except Exception as error:
                self._counters.refused.add(count)
                return self._error(error)
            self._counters.accepted.add(count)
        if result.state_writes:
            await self._state.apply(result.state_writes)
        return _to_web(result.response)


def _decode_json(raw: bytes, content_type: str) -> Any:
    if not raw.strip():
        return None
    if content_type not in ("application/json", "text/plain", "application/octet-stream", "") \
            and not content_type.endswith("+json"):
        raise UnsupportedMediaTypeError(f'unsupported content type "{content_type}": send application/json')
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise PermanentError(f"request body is not valid JSON: {error}") from error


def _to_web(response: AdapterResponse, retry_after_s: int | None = None) -> web.Response:
    headers = dict(response.headers)
    if retry_after_s is not None and "Retry-After" not in headers:
        headers["Retry-After"] = str(retry_after_s)
    if response.body is None:
        return web.Response(status=response.status, headers=headers)
    return web.Response(status=response.status, body=orjson.dumps(response.body), headers=headers,
                        content_type="application/json")


def adapter_receiver_factory(plugin: AdapterPlugin) -> Factory:
    """The receiver factory of an adapter plugin: its type is the plugin's name."""

    def create(settings: CreateSettings, config: Any, next_consumer: Consumer) -> AdapterReceiver:
        return AdapterReceiver(settings, config, next_consumer, plugin)

    def endpoints(config: Any) -> list[Endpoint]:
        adapter = plugin.create(config)
        return [Endpoint(config.endpoint, "http", tuple(f"{route.method} {route.path}" for route in adapter.routes))]

    return Factory(type=plugin.name, kind=Kind.RECEIVER, config_class=plugin.config_class, create=create,
                   endpoints=endpoints, description=plugin.description)
