"""The receiver that serves an adapter plugin's routes: it owns HTTP (body limits,
decompression, JSON decoding), state and backpressure; the adapter owns the vendor's shape.

Errors reach the client in the vendor's documented error shape, never as a 500; spans reach
the pipeline before the adapter's answer is sent, so a success means the spans were taken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web

from spanhouse.collector.auth.authenticator import OPEN_PRINCIPAL, Principal
from spanhouse.collector.core.adapter_api import (
    Adapter,
    AdapterConfig,
    AdapterPlugin,
    AdapterRequest,
    AdapterResponse,
    AdapterResult,
    OtlpRoute,
    Route,
    ServiceRoute,
    StateWrite,
    StreamingAnswer,
)
from spanhouse.collector.core.component import (
    Consumer,
    CreateSettings,
    Endpoint,
    Factory,
    Host,
    Kind,
    Traces,
    span_count,
)
from spanhouse.collector.core.errors import PermanentError, PipelineError, UnsupportedMediaTypeError, classify
from spanhouse.collector.core.storage import NoStorageError, StorageClient
from spanhouse.collector.receivers.adapter.config import receiver_config_class, receiver_settings
from spanhouse.collector.receivers.adapter.state_store import StateStore
from spanhouse.collector.server.body import read_decoded_body
from spanhouse.collector.server.guard import GuardedServices, RequestGuard, route_scope
from spanhouse.collector.server.limits import check_json_depth
from spanhouse.collector.server.listener import ListenerSettings
from spanhouse.collector.server.otlp_http import OtlpHttpHandler
from spanhouse.collector.server.rate_limit import TokenBucketLimiter
from spanhouse.collector.server.retry_dedup import RetryDedup, keyed_headers, request_key
from spanhouse.collector.server.telemetry import ReceiverCounters
from spanhouse.collector.server.tls import server_ssl_context

logger = logging.getLogger(__name__)

ERROR_CODES: Final = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                      413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited",
                      503: "unavailable"}
# Where the authenticated caller of a request is kept on the aiohttp request.
PRINCIPAL_KEY: Final = web.RequestKey("spanhouse.principal", Principal)
# The route of everything no other route of the port takes (answered by _unrouted).
UNROUTED_PATH: Final = "/{unrouted:.*}"
# Requests left in the caller's token bucket (auth.rate_limit), when its token is limited.
TOKEN_REMAINING_KEY: Final = web.RequestKey("spanhouse.token_remaining", int)
RATE_LIMIT_REMAINING_HEADER: Final = "X-RateLimit-Remaining"


class AdapterReceiver:
    def __init__(self, settings: CreateSettings, config: AdapterConfig, next_consumer: Consumer,
                 plugin: AdapterPlugin) -> None:
        self._settings = settings
        self._endpoint = config.endpoint
        self._config = receiver_settings(config)
        self._next = next_consumer
        self._plugin = plugin
        self._adapter: Adapter = plugin.create(config)
        state_file = settings.config_dir / self._config.state_directory / (settings.component_id.replace("/", "_")
                                                                           + ".sqlite3")
        self._state = StateStore(state_file, config.state_ttl)
        self._counters = ReceiverCounters.create(None, settings.component_id, "http")
        self._translation_failures_logged = False
        self._host: Host | None = None
        self._http_client: aiohttp.ClientSession | None = None
        self._rate_limiter = TokenBucketLimiter.from_config(self._config.rate_limit)
        self._guard = RequestGuard.open(self._config.limits)
        # Exclusive state keys of the requests being stored, each with a future done once its
        # request is (see _serve and StateWrite.exclusive).
        self._claims: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._retries = RetryDedup(self._config.retry_dedup, None, settings.component_id)

    async def start(self, host: Host) -> None:
        self._host = host
        self._counters = ReceiverCounters.create(host.telemetry, self._settings.component_id, "http")
        self._state.open()
        limits = self._config.limits
        self._guard = RequestGuard.create(host, limits, self._settings.component_id)
        self._retries = RetryDedup.for_receiver(self._config.retry_dedup, self._settings.config_dir,
                                                self._settings.component_id, host.telemetry)
        await self._retries.start()
        tls = self._config.tls
        listener = ListenerSettings(server_ssl_context(tls, self._settings.config_dir) if tls else None,
                                    limits.header_read_timeout, limits.max_connections, limits.body_read_timeout)
        for route in self._adapter.routes:
            host.http_servers.add_route(self._endpoint, route.method, route.path,
                                        self._authenticated(route, self._handler(route)),
                                        self._settings.component_id, listener)
        # aiohttp tries the longest path prefix first, so this catch-all at "/" comes after every
        # route of the port, whichever receiver added it; a second adapter receiver on the port
        # finds it there already (RuntimeError).
        with contextlib.suppress(RuntimeError):
            host.http_servers.add_route(self._endpoint, "*", UNROUTED_PATH, self._unrouted,
                                        self._settings.component_id, listener)

    def _authenticated(self, route: Route | ServiceRoute | OtlpRoute, handler: Any) -> Any:
        """Every route checks the caller first, before any limiter or body read, and answers
        401/403 in the vendor's shape (OTLP routes check in their own handler, in OTLP's)."""
        if isinstance(route, OtlpRoute):
            return handler
        scope = route_scope(route)

        async def authenticated(request: web.Request) -> web.StreamResponse:
            try:
                request[PRINCIPAL_KEY], remaining = self._guard.admit_counted(request.headers, scope)
            except PipelineError as error:
                return self._error(error)
            if remaining is not None:
                request[TOKEN_REMAINING_KEY] = remaining
            response: web.StreamResponse = await handler(request)
            return response
        return authenticated

    async def _unrouted(self, request: web.Request) -> web.Response:
        """An unknown path (404) or a method a known path does not take (405, with Allow), in the
        adapter's error shape instead of aiohttp's plain text."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is not request.match_info.route.resource:
                match, methods = await resource.resolve(request)
                if match is None:
                    allowed |= methods
        if not allowed:
            return _to_web(self._adapter.error_response(404, "not_found", "no route at this path"))
        listed = ", ".join(sorted(allowed))
        response = _to_web(self._adapter.error_response(
            405, "method_not_allowed", f"method {request.method} is not allowed here; use {listed}"))
        response.headers["Allow"] = listed
        return response

    async def shutdown(self) -> None:
        await self._retries.shutdown()
        self._state.close()
        if self._http_client is not None:
            await self._http_client.close()
            self._http_client = None

    def _handler(self, route: Route | ServiceRoute | OtlpRoute) -> Any:
        # `headers`: what every answer carries (X-RateLimit-Remaining); a streamed answer sends
        # its headers before the handler returns, so it gets them up front.
        if isinstance(route, OtlpRoute):
            # The otlp receiver's own handler, answering in OTLP's shape.
            otlp = OtlpHttpHandler(self._next, self._config.max_request_body_size, self._counters, self._guard,
                                   self._retries)

            async def serve(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
                return await otlp.handle(request)
        elif isinstance(route, ServiceRoute):
            async def serve(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
                return await self._serve_with_services(route, request, headers)
        else:
            async def serve(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
                return await self._serve(route, request)
        limiter = self._rate_limiter
        if limiter is None:
            async def serve_unlimited(request: web.Request) -> web.StreamResponse:
                token_remaining = request.get(TOKEN_REMAINING_KEY)
                if token_remaining is None:
                    return await serve(request, {})
                headers = {RATE_LIMIT_REMAINING_HEADER: str(token_remaining)}
                return _with_remaining(await serve(request, headers), headers)
            return serve_unlimited

        async def serve_limited(request: web.Request) -> web.StreamResponse:
            allowed, remaining, retry_after_s = limiter.check(_rate_limit_key(request))
            token_remaining = request.get(TOKEN_REMAINING_KEY)
            if token_remaining is not None:
                remaining = min(remaining, token_remaining)  # what the tighter of the two allows
            headers = {RATE_LIMIT_REMAINING_HEADER: str(remaining)}
            response: web.StreamResponse
            if not allowed:
                response = _to_web(self._adapter.error_response(
                    429, "rate_limited", f"rate limit exceeded: retry in {retry_after_s} s", retry_after_s),
                    retry_after_s)
            else:
                response = await serve(request, headers)
            return _with_remaining(response, headers)
        return serve_limited

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

    def storage(self) -> StorageClient:
        if self._host is None:
            raise NoStorageError(f"receiver {self._settings.component_id} is not started")
        return self._host.storage()

    def http_client(self) -> aiohttp.ClientSession:
        if self._http_client is None:
            self._http_client = aiohttp.ClientSession()
        return self._http_client

    def now_ns(self) -> int:
        return time.time_ns()

    async def _serve_with_services(self, route: ServiceRoute, request: web.Request,
                                   headers: dict[str, str]) -> web.StreamResponse:
        raw = b""
        body: Any = None
        try:
            if route.json_body:
                raw = await read_decoded_body(request, self._config.max_request_body_size,
                                             self._config.limits.body_read_timeout)
                body = _decode_json(raw, request.content_type)
                check_json_depth(body, self._config.limits.max_json_depth)
        except PipelineError as error:
            return self._error(error)
        adapter_request = self._adapter_request(request, body, route.json_body)
        try:
            answer = await route.handle(adapter_request, raw, GuardedServices(self, self._guard, _principal(request)))
        except PipelineError as error:  # the pipeline refused (429/503) or the input was bad
            return self._error(error)
        if isinstance(answer, AdapterResponse):
            return _to_web(answer)
        if isinstance(answer, StreamingAnswer):
            return await _stream(request, answer, headers)
        return answer  # type: ignore[no-any-return]

    def _adapter_request(self, request: web.Request, body: Any, depth_checked: bool) -> AdapterRequest:
        principal = _principal(request)
        headers = {key.lower(): value for key, value in request.headers.items()}
        if principal is not OPEN_PRINCIPAL:
            # The caller's credential was spanhouse's own token: it never reaches an adapter,
            # so nothing (a proxy forwarding Authorization upstream, say) can leak it.
            headers.pop("authorization", None)
        return AdapterRequest(
            method=request.method, path=request.path, path_params=dict(request.match_info),
            query=dict(request.query), headers=headers,
            body=body, tenant=principal.tenant, received_at_ns=time.time_ns(),
            max_body_depth=self._config.limits.max_json_depth if depth_checked else None)

    def _error(self, error: BaseException) -> web.Response:
        answer = classify(error)
        code = ERROR_CODES.get(answer.http_status, "error")
        response = _to_web(self._adapter.error_response(answer.http_status, code, answer.message,
                                                        answer.retry_after_s), answer.retry_after_s)
        if answer.http_status == 429:
            # Whichever limit refused (the token's, the pipeline's), nothing is left for now.
            response.headers[RATE_LIMIT_REMAINING_HEADER] = "0"
        return response

    async def _serve(self, route: Route, request: web.Request) -> web.Response:
        body: Any = None
        raw = b""
        if route.json_body:
            try:
                raw = await read_decoded_body(request, self._config.max_request_body_size,
                                             self._config.limits.body_read_timeout)
                body = _decode_json(raw, request.content_type)
                check_json_depth(body, self._config.limits.max_json_depth)
            except PipelineError as error:
                return self._error(error)
        if not self._retries.enabled:
            return await self._translate(route, request, body)
        # A client's retry of a stored request is answered as the first time (docs/retries.md).
        key = request_key(_principal(request).tenant, f"{request.method} {request.path_qs}", raw,
                          keyed_headers(request.headers.items()))
        return await self._retries.once_http(key, lambda: self._translate(route, request, body))

    async def _translate(self, route: Route, request: web.Request, body: Any) -> web.Response:
        adapter_request = self._adapter_request(request, body, route.json_body)
        while True:
            try:
                result = route.handle(adapter_request, self._state)
            except Exception as error:
                # An adapter that raises met input its validation missed: the sender's request is
                # what cannot be translated, so it gets a 400, and we log it once to fix the adapter.
                if not self._translation_failures_logged:
                    self._translation_failures_logged = True
                    logger.exception("receiver %s: adapter failed on a request", self._settings.component_id)
                return self._error(PermanentError(f"the request could not be translated: {error}"))
            claimed = [(write.namespace, write.key) for write in result.state_writes if write.exclusive]
            busy = {self._claims[key] for key in claimed if key in self._claims}
            if not busy:
                break
            # A request claiming the same keys is being stored: once it is, translate again
            # against the state it wrote (a simultaneous repeat is then seen as a repeat).
            await asyncio.wait(busy)
        # Claimed in the same step as the check above (no await between): atomic on the loop.
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in claimed:
            self._claims[key] = stored
        try:
            return await self._store(result, request)
        finally:
            for key in claimed:
                if self._claims.get(key) is stored:
                    del self._claims[key]
            stored.set_result(None)

    async def _store(self, result: AdapterResult, request: web.Request) -> web.Response:
        traces = result.traces
        count = span_count(traces) if traces is not None else 0
        if count:
            assert traces is not None
            try:
                self._guard.prepare(traces, _principal(request), count)
                await self._next.consume(traces)
            except Exception as error:
                self._counters.refused.add(count)
                return self._error(error)
            self._counters.accepted.add(count)
        if result.state_writes:
            await self._state.apply(result.state_writes)
        return _to_web(result.response)


def _principal(request: web.Request) -> Principal:
    principal = request.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else OPEN_PRINCIPAL


def _with_remaining(response: web.StreamResponse, headers: dict[str, str]) -> web.StreamResponse:
    """`headers` set on an answer not yet sent; a 429, whoever refused, has 0 requests left."""
    if not response.prepared:
        response.headers.update(headers)
        if response.status == 429:
            response.headers[RATE_LIMIT_REMAINING_HEADER] = "0"
    return response


def _rate_limit_key(request: web.Request) -> str:
    """The bucket of a request: its bearer token (the workspace key), else its peer address."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + token.strip()
    return "peer:" + (request.remote or "")


async def _stream(request: web.Request, answer: StreamingAnswer, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status, headers={**answer.headers, **headers})
    chunks = answer.chunks
    try:
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        pass  # the client left; closing `chunks` below still lets the producer finish its work
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return response


def _decode_json(raw: bytes, content_type: str) -> Any:
    if not raw or raw.isspace():  # what `not raw.strip()` tells, without copying the body
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

    return Factory(type=plugin.name, kind=Kind.RECEIVER, config_class=receiver_config_class(plugin.config_class),
                   create=create, endpoints=endpoints, description=plugin.description,
                   content_attributes=plugin.content_attributes)
