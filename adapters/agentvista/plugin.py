"""The `agentvista` adapter: AgentVista's `POST /api/v1/traces/batch` as OTLP spans, with the
vendor's per-trace acceptance, idempotency, agent records and monthly event limit.
The mapping is documented in docs/adapters/agentvista.md."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.adapters.agentvista.read import read_routes
from spanhouse.adapters.agentvista.spans import SCOPE_NAME, fill_child_span, fill_root_span, trace_ids
from spanhouse.adapters.agentvista.state import (
    AGENT_RECORD_TTL_S,
    AGENTS_NAMESPACE,
    SPANS_NAMESPACE,
    USAGE_KEPT_AFTER_MONTH_S,
    USAGE_NAMESPACE,
)
from spanhouse.adapters.agentvista.validate import InvalidTraceError, ValidTrace, validate_trace
from spanhouse.adapters.common.attributes import put
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.collector.core.adapter_api import (
    AdapterConfig,
    AdapterPlugin,
    AdapterRequest,
    AdapterResponse,
    AdapterResult,
    Route,
    ServiceRoute,
    StateView,
    StateWrite,
)
from spanhouse.collector.core.agents import agent_id
from spanhouse.collector.core.component import Traces
from spanhouse.collector.core.config.types import ADDRESS

logger = logging.getLogger(__name__)

BATCH_PATH: Final = "/api/v1/traces/batch"
DEFAULT_ENDPOINT: Final = "127.0.0.1:4413"
# "The batch accepts up to 100 total spans across all traces in a single request."
MAX_SPANS_PER_REQUEST: Final = 100

_NANOS_PER_SECOND: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class AgentVistaConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_ENDPOINT, metadata={
        "description": "host:port this receiver listens on."})
    monthly_event_limit: int = field(default=0, metadata={
        "description": "Spans a tenant may store per calendar month (UTC) before 429; 0 means no limit."})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.monthly_event_limit < 0:
            problems.append(("monthly_event_limit", "must be 0 (no limit) or greater"))
        return problems


def _month_bounds(received_at_ns: int) -> tuple[str, int]:
    """The calendar month (UTC) of a time, as "YYYY-MM", and the nanoseconds until it ends."""
    moment = datetime.fromtimestamp(received_at_ns // _NANOS_PER_SECOND, UTC)
    next_month = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    next_month_ns = int(next_month.timestamp()) * _NANOS_PER_SECOND
    return f"{moment.year:04d}-{moment.month:02d}", next_month_ns - received_at_ns


def _iso(nanos: int) -> str:
    moment = datetime.fromtimestamp(nanos // _NANOS_PER_SECOND, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % _NANOS_PER_SECOND // 1000:06d}Z"


def _trace_id_sent(item: Any) -> str | None:
    """The trace id of a rejected trace as the client sent it, to match the error to it."""
    header = item.get("trace") if isinstance(item, dict) else None
    value = header.get("trace_id") if isinstance(header, dict) else None
    return quote(value) if isinstance(value, str) else None


class AgentVistaAdapter:
    """Serves the ingestion route and the page's read routes (adapters/agentvista/read.py)."""

    def __init__(self, config: AgentVistaConfig) -> None:
        self.config = config
        self._routes: tuple[Route | ServiceRoute, ...] = (Route("POST", BATCH_PATH, self.handle_batch),
                                                          *read_routes(self.error_response))

    @property
    def routes(self) -> Sequence[Route | ServiceRoute]:
        return self._routes

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        # The page documents no error body. AgentVista's API is FastAPI-shaped (/api/v1,
        # snake_case), so errors take FastAPI's {"detail": message}; `code` is not sent.
        headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
        return AdapterResponse(status=status, body={"detail": message}, headers=headers)

    def handle_batch(self, request: AdapterRequest, state: StateView) -> AdapterResult:
        body = request.body
        if not isinstance(body, dict):
            return self._bad_request(f'the body must be a JSON object with a "traces" array, got {describe(body)}')
        items = body.get("traces")
        if items is None:
            return self._bad_request("traces: field required")
        if not isinstance(items, list):
            return self._bad_request(f"traces: expected an array, got {describe(items)}")
        span_total = sum(len(item["spans"]) for item in items
                         if isinstance(item, dict) and isinstance(item.get("spans"), list))
        if span_total > MAX_SPANS_PER_REQUEST:
            return self._bad_request(f"a batch accepts at most {MAX_SPANS_PER_REQUEST} spans across all "
                                     f"traces; this one has {span_total}. Nothing was stored")

        valid: list[ValidTrace] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            try:
                valid.append(validate_trace(item))
            except InvalidTraceError as error:
                errors.append({"trace_id": _trace_id_sent(item), "error": str(error)})
        return self._store(request, state, valid, errors)

    def _bad_request(self, message: str) -> AdapterResult:
        return AdapterResult(self.error_response(400, "bad_request", message))

    def _store(self, request: AdapterRequest, state: StateView, valid: list[ValidTrace],
               errors: list[dict[str, Any]]) -> AdapterResult:
        """Spans not stored before, the state writes that remember them, and the answer."""
        tenant = request.tenant
        span_keys = [key for trace in valid for key in _keys(tenant, trace)]
        already_stored = state.get_many(SPANS_NAMESPACE, span_keys) if span_keys else {}
        agent_names = list(dict.fromkeys(trace.agent for trace in valid))
        agent_keys = [f"{tenant}:{name}" for name in agent_names]
        known_agents = state.get_many(AGENTS_NAMESPACE, agent_keys) if agent_keys else {}

        output = _Output()
        writes: list[StateWrite] = []
        seen = set(already_stored)  # also drops a trace or span repeated within this request
        for trace in valid:
            root_key, *child_keys = _keys(tenant, trace)
            ids = trace_ids(trace)
            if root_key not in seen:
                fill_root_span(output.new_span(trace.agent), trace, ids, agent_id(tenant, trace.agent))
                seen.add(root_key)
                writes.append(StateWrite(SPANS_NAMESPACE, root_key, b"1", self.config.state_ttl))
            for key, vendor_span in zip(child_keys, trace.spans, strict=True):
                if key not in seen:
                    fill_child_span(output.new_span(trace.agent), trace, ids, vendor_span)
                    seen.add(key)
                    writes.append(StateWrite(SPANS_NAMESPACE, key, b"1", self.config.state_ttl))
        new_spans = output.count

        month, until_month_end_ns = _month_bounds(request.received_at_ns)
        usage_key = f"{tenant}:{month}"
        used = _read_count(state.get(USAGE_NAMESPACE, usage_key), usage_key)
        limit = self.config.monthly_event_limit
        if new_spans and limit > 0 and used + new_spans > limit:
            retry_after_s = max(1, -(-until_month_end_ns // _NANOS_PER_SECOND))
            message = (f"monthly event limit of {limit} events reached: {used} stored in {month}, "
                       f"this batch would add {new_spans}. Nothing was stored")
            return AdapterResult(self.error_response(429, "rate_limited", message, retry_after_s))
        if new_spans:
            usage_ttl_s = until_month_end_ns / _NANOS_PER_SECOND + USAGE_KEPT_AFTER_MONTH_S
            writes.append(StateWrite(USAGE_NAMESPACE, usage_key, str(used + new_spans).encode("ascii"), usage_ttl_s,
                                     exclusive=False))

        for name in agent_names:
            key = f"{tenant}:{name}"
            if key not in known_agents:
                record = {"id": agent_id(tenant, name), "name": name, "tenant": tenant,
                          "created_at": _iso(request.received_at_ns)}
                writes.append(StateWrite(AGENTS_NAMESPACE, key, orjson.dumps(record), AGENT_RECORD_TTL_S,
                                         exclusive=False))

        response = AdapterResponse(200, {"accepted": len(valid), "rejected": len(errors), "errors": errors})
        return AdapterResult(response, output.traces if output.count else None, writes)


class _Output:
    """The OTLP request being built: one resource per agent (its `service.name`), created
    only when a span of that agent is new."""

    def __init__(self) -> None:
        self.traces = Traces()
        self.count = 0
        self._spans_by_agent: dict[str, Any] = {}

    def new_span(self, agent: str) -> Span:
        """An empty span of `agent`'s resource, to fill in place."""
        spans = self._spans_by_agent.get(agent)
        if spans is None:
            resource_spans = self.traces.resource_spans.add()
            put(resource_spans.resource.attributes, "service.name", agent)
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = SCOPE_NAME
            spans = self._spans_by_agent[agent] = scope_spans.spans
        self.count += 1
        span: Span = spans.add()
        return span


def _keys(tenant: str, trace: ValidTrace) -> list[str]:
    """The trace's root key, then one key per vendor span, in the order of `trace.spans`."""
    prefix = f"{tenant}:{trace.trace_id}"
    return [f"{prefix}:trace", *(f"{prefix}:{span.span_id}" for span in trace.spans)]


def _read_count(value: bytes | None, key: str) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(value.decode("ascii")))
    except (UnicodeDecodeError, ValueError):
        # Not written by this adapter; counting from 0 again is safer than refusing every
        # request of the tenant for the rest of the month.
        logger.warning("agentvista usage counter %s holds %r, not a number; counting from 0", key, value[:40])
        return 0


def create(config: AgentVistaConfig) -> AgentVistaAdapter:
    return AgentVistaAdapter(config)


PLUGIN: Final = AdapterPlugin(
    name="agentvista", config_class=AgentVistaConfig, create=create,
    description="AgentVista's trace batch API (POST /api/v1/traces/batch) as OTLP spans.")
