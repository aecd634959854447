"""The `query_api` extension's HTTP server: JSON reads under /api/ (each one parameterised query
of sql/, restricted to the caller's tenant) and the trace viewer's static files at /."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import web

from spanhouse.collector.auth import authenticate
from spanhouse.collector.core.component import CreateSettings, Host
from spanhouse.collector.core.config.types import split_address
from spanhouse.collector.core.errors import PipelineError, RetryableError, classify
from spanhouse.collector.core.storage import NoStorageError
from spanhouse.collector.extensions.query_api.config import QueryApiConfig
from spanhouse.collector.read.params import (
    MAX_UINT64,
    NANOS_PER_MILLISECOND,
    NANOS_PER_SECOND,
    BadParameterError,
    iso_time,
    like_pattern,
    parse_attributes,
    parse_limit,
    parse_positive_duration,
    parse_status,
    parse_trace_id,
    parse_window,
    step_ns_for,
)
from spanhouse.collector.read.store import MAX_SPANS_PER_TRACE, SearchFilters, TraceStore
from spanhouse.collector.read.views import (
    agent_json,
    agent_stats_json,
    bucket_json,
    feedback_json,
    service_json,
    span_json,
    trace_summary_json,
)
from spanhouse.collector.server.fd_budget import budget_of
from spanhouse.collector.server.guard import rate_limits_of
from spanhouse.collector.server.listener import Listener, ListenerSettings, open_listener

logger = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).parent / "static"
_WILDCARD_HOSTS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
READ_SCOPE: Final = "read"
UNREADABLE_REASON: Final = "stored traces cannot be read now, retry later"
GROUP_BY: Final = ("agent", "model")
HOST_KEY: Final = web.AppKey("host", object)

ApiHandler = Callable[[web.Request, str, TraceStore], Awaitable[Any]]


def tenant_of(request: web.Request) -> str:
    """Whose traces a request may read; the one place the query API decides it. The token of
    the `auth` section (scope "read") names the tenant; without an auth section it is
    `default`. Raises the classified 401/403, and 429 over the token's `rate_limit` (the same
    buckets as the receivers')."""
    host = request.app[HOST_KEY]
    principal = authenticate(host, request.headers, READ_SCOPE)
    rate_limits_of(host).admit(principal)
    return principal.tenant


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _error_json(error: PipelineError) -> web.Response:
    """A classified error in the read API's shape: `error` (safe to show) and, when its details
    were kept for the log, the `request_id` they are logged under."""
    answer = classify(error)
    body = {"error": answer.message, "request_id": answer.request_id}
    response = _json(body, answer.http_status)
    if answer.retry_after_s is not None:
        response.headers["Retry-After"] = str(answer.retry_after_s)
    return response


class QueryApi:
    def __init__(self, settings: CreateSettings, config: QueryApiConfig) -> None:
        self._component_id = settings.component_id
        self._config = config
        self._host: Host | None = None
        self._listener: Listener | None = None

    async def start(self, host: Host) -> None:
        self._host = host
        app = web.Application()
        app[HOST_KEY] = host
        router = app.router
        router.add_get("/api/traces", self._api(self._search))
        router.add_get("/api/traces/{trace_id}", self._api(self._trace))
        router.add_get("/api/services", self._api(self._services))
        router.add_get("/api/agents", self._api(self._agents))
        router.add_get("/api/agents/compare", self._api(self._compare_agents))
        router.add_get("/api/timeseries", self._api(self._timeseries))
        if self._config.viewer:
            router.add_get("/", self._index)
            router.add_static("/static/", STATIC_DIR)
        limits, budget = self._config.limits, budget_of(host)
        settings = ListenerSettings(None, limits.header_read_timeout, budget.cap(limits.max_connections),
                                    limits.body_read_timeout)
        self._listener = await open_listener(app, self._config.endpoint, settings, self._component_id,
                                             budget.backlog, getattr(host, "telemetry", None))

    async def shutdown(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    @property
    def bound_port(self) -> int:
        assert self._listener is not None
        return self._listener.bound_port

    @property
    def urls(self) -> dict[str, str]:
        """What the ready line shows: the viewer's and the read API's URLs, on the bound port."""
        host, _ = split_address(self._config.endpoint)
        host = _WILDCARD_HOSTS.get(host, host)  # a browser cannot open 0.0.0.0: this machine's loopback
        base = f"http://[{host}]:{self.bound_port}" if ":" in host else f"http://{host}:{self.bound_port}"
        urls = {"viewer": f"{base}/"} if self._config.viewer else {}
        return {**urls, "read API": f"{base}/api/"}

    # ---- plumbing ------------------------------------------------------------------

    def _api(self, handler: ApiHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            try:
                tenant = tenant_of(request)
                body = await handler(request, tenant, self._store())
            except BadParameterError as error:
                return _json({"error": str(error)}, 400)
            except _NotFoundError as error:
                return _json({"error": str(error)}, 404)
            except PipelineError as error:
                return _error_json(error)
            except (ConnectionError, OSError) as error:
                # ClickHouse cannot answer now: the client may retry. Its message (endpoint,
                # query id, file path) goes to the log under the request id, not to the client.
                return _error_json(RetryableError(f"{request.path}: stored traces cannot be read now: {error}",
                                                  reason=UNREADABLE_REASON))
            except Exception as error:
                # A query that fails otherwise is a defect (ours or ClickHouse's): 500, not retried.
                answer = classify(error, unclassified_status=500)
                return _json({"error": answer.message, "request_id": answer.request_id}, answer.http_status)
            return _json(body)
        return serve

    def _store(self) -> TraceStore:
        if self._host is None:
            raise NoStorageError(f"extension {self._component_id} is not started")
        # NoStorageError (a RetryableError: 503) when no exporter of the pipelines stores spans.
        return TraceStore(self._host.storage())

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    # ---- the reads ------------------------------------------------------------------

    async def _search(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        query = request.query
        window = parse_window(query, _now_ns())
        max_duration = query.get("max_duration")
        filters = SearchFilters(
            window=window, service=query.get("service", ""), span_name=query.get("span_name", ""),
            agent=query.get("agent", ""), status_codes=tuple(parse_status(query.get("status"))),
            min_duration_ns=_duration_ns("min_duration", query.get("min_duration")),
            max_duration_ns=_duration_ns("max_duration", max_duration) if max_duration else MAX_UINT64,
            attribute_items=tuple(parse_attributes(query.getall("attribute", []))),
            name_pattern=like_pattern(query.get("q")), limit=parse_limit(query.get("limit")))
        rows = await store.search(tenant, filters)
        return {"traces": [trace_summary_json(row, tenant) for row in rows], "limit": filters.limit,
                "start": iso_time(window.start_ns), "end": iso_time(window.end_ns)}

    async def _trace(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        trace_id = parse_trace_id(request.match_info["trace_id"])
        rows = await store.trace_spans(tenant, trace_id)
        summary = await store.trace_summary(tenant, trace_id) if rows else None
        if not rows or summary is None:
            raise _NotFoundError(f"no trace {trace_id}")
        outcome = await store.trace_outcome(tenant, trace_id)
        feedback = await store.outcomes.feedback(tenant, trace_id)
        return {"trace_id": trace_id, "summary": trace_summary_json(summary, tenant),
                "spans": [span_json(row) for row in rows],
                "truncated": summary["span_count"] > len(rows) and len(rows) >= MAX_SPANS_PER_TRACE,
                "outcome": None if outcome is None else {
                    "success": outcome["success"], "outcome": outcome["outcome"],
                    "updated_at": iso_time(outcome["updated_ns"])},
                "feedback": [feedback_json(row) for row in feedback]}

    async def _services(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        window = parse_window(request.query, _now_ns(), default_lookback_s=None)
        return {"services": [service_json(row) for row in await store.services(tenant, window)]}

    async def _agents(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        window = parse_window(request.query, _now_ns(), default_lookback_s=None)
        return {"agents": [agent_json(row, tenant) for row in await store.agents(tenant, window)]}

    async def _compare_agents(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        wanted = []
        for parameter in ("agent_a", "agent_b"):
            value = request.query.get(parameter, "").strip()
            if not value:
                raise BadParameterError(f"{parameter}: required (an agent id or name)")
            wanted.append((parameter, value))
        agents = await store.agents_by_id(tenant)
        names_known = {row["name"] for row in agents.values()}
        names = []
        for parameter, value in wanted:
            agent = agents.get(_as_agent_id(value) or "")
            if agent is not None:
                names.append(agent["name"])
            elif value in names_known:
                names.append(value)
            else:
                raise _NotFoundError(f"{parameter}: no agent {value!r}")
        rows = await store.compare_agents(tenant, names[0], names[1])
        by_name = {row["name"]: row for row in rows}
        return {"agents": [agent_stats_json(name, by_name.get(name), tenant) for name in names]}

    async def _timeseries(self, request: web.Request, tenant: str, store: TraceStore) -> Any:
        query = request.query
        group_by = query.get("group_by", "agent")
        if group_by not in GROUP_BY:
            raise BadParameterError(f"group_by: expected agent or model, got {group_by!r}")
        window = parse_window(query, _now_ns())
        step_ns = step_ns_for(window, query.get("step"))
        rows = await store.timeseries(tenant, group_by, window, step_ns, query.get(group_by, ""))
        return {"group_by": group_by, "step_ms": step_ns / NANOS_PER_MILLISECOND,
                "start": iso_time(window.start_ns), "end": iso_time(window.end_ns),
                "buckets": [bucket_json(row) for row in rows]}


class _NotFoundError(LookupError):
    pass


def _duration_ns(name: str, text: str | None) -> int:
    if not text:
        return 0
    return round(parse_positive_duration(name, text) * NANOS_PER_SECOND)


def _now_ns() -> int:
    return time.time_ns()


def _as_agent_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
