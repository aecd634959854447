"""AgentVista's read endpoints (`GET /dashboard/traces/{trace_id}`, `GET .../compare-agents`,
`PATCH .../{trace_id}/outcome`) over every trace spanhouse holds, whatever sent it. Thin
handlers: the reads are the query API's SQL (collector/read/sql), the shapes
are adapters/agentvista/read_shape.py. Documented in docs/read-api.md."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from spanhouse.adapters.agentvista.read_shape import as_uuid, trace_header, vendor_spans
from spanhouse.adapters.agentvista.state import AGENT_RECORD_TTL_S, AGENTS_NAMESPACE
from spanhouse.adapters.common.messages import describe
from spanhouse.collector.core.adapter_api import (
    AdapterRequest,
    AdapterResponse,
    ServiceRoute,
    Services,
    ServiceUnavailable,
    StateWrite,
)
from spanhouse.collector.core.agents import agent_id
from spanhouse.collector.read.outcomes import Outcome
from spanhouse.collector.read.params import BadParameterError, iso_time, parse_trace_id
from spanhouse.collector.read.store import TraceStore
from spanhouse.collector.read.views import agent_stats_json

TRACE_PATH: Final = "/api/v1/dashboard/traces/{trace_id}"
COMPARE_AGENTS_PATH: Final = "/api/v1/dashboard/traces/compare-agents"
OUTCOME_PATH: Final = "/api/v1/dashboard/traces/{trace_id}/outcome"
# Agent id -> agent name, so that compare-agents finds an agent without listing them all. The
# agent records themselves stay in AGENTS_NAMESPACE, keyed by name as the ingest route writes them.
AGENT_IDS_NAMESPACE: Final = "agentvista.agent_ids"
# FastAPI (which AgentVista's API is shaped like) answers 422 for a parameter or body that
# does not validate; the batch route's 400 is a rule of its own (docs/adapters/agentvista.md).
UNPROCESSABLE: Final = 422
NOT_FOUND_TRACE: Final = "Trace not found"
NOT_FOUND_AGENT: Final = "Agent not found"

ErrorResponse = Callable[..., AdapterResponse]


def read_routes(error_response: ErrorResponse) -> tuple[ServiceRoute, ...]:
    """The read routes, compare-agents before `{trace_id}` so that it is not taken for a trace id."""
    routes = _ReadRoutes(error_response)
    return (ServiceRoute("GET", COMPARE_AGENTS_PATH, routes.compare_agents, json_body=False),
            ServiceRoute("GET", TRACE_PATH, routes.trace_detail, json_body=False),
            ServiceRoute("PATCH", OUTCOME_PATH, routes.set_outcome))


class _ReadRoutes:
    def __init__(self, error_response: ErrorResponse) -> None:
        self._error = error_response

    def _store(self, services: Services) -> TraceStore:
        # NoStorageError (a RetryableError) when no exporter of the collector stores spans.
        return TraceStore(services.storage())

    async def trace_detail(self, request: AdapterRequest, raw: bytes, services: Services) -> AdapterResponse:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except BadParameterError as error:
            return self._error(UNPROCESSABLE, "bad_request", str(error))
        store = self._store(services)
        tenant = request.tenant
        rows = await _read(store.trace_spans(tenant, trace_id))
        summary = await _read(store.trace_summary(tenant, trace_id)) if rows else None
        if not rows or summary is None:
            return self._error(404, "not_found", NOT_FOUND_TRACE)
        outcome = await _read(store.trace_outcome(tenant, trace_id))
        header = trace_header(rows, summary, outcome, tenant)
        await _remember_agents(services, tenant, {header["agent_name"]: rows[0]["start_ns"]})
        return AdapterResponse(200, {**header, "spans": vendor_spans(rows)})

    async def compare_agents(self, request: AdapterRequest, raw: bytes, services: Services) -> AdapterResponse:
        ids = []
        for parameter in ("agent_a", "agent_b"):
            value = request.query.get(parameter)
            if not value:
                return self._error(UNPROCESSABLE, "bad_request", f"{parameter}: field required")
            try:
                ids.append(str(uuid.UUID(value)))
            except ValueError:
                return self._error(UNPROCESSABLE, "bad_request", f"{parameter}: {value[:80]!r} is not a UUID")
        store = self._store(services)
        tenant = request.tenant
        names = await _agent_names(store, services, tenant, ids)
        if names is None:
            return self._error(404, "not_found", NOT_FOUND_AGENT)
        rows = await _read(store.compare_agents(tenant, names[0], names[1]))
        by_name = {row["name"]: row for row in rows}
        return AdapterResponse(200, {"agents": [agent_stats_json(name, by_name.get(name), tenant) for name in names]})

    async def set_outcome(self, request: AdapterRequest, raw: bytes, services: Services) -> AdapterResponse:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except BadParameterError as error:
            return self._error(UNPROCESSABLE, "bad_request", str(error))
        body = request.body
        problem = _outcome_problem(body)
        if problem is not None:
            return self._error(UNPROCESSABLE, "bad_request", problem)
        store = self._store(services)
        if await _read(store.trace_summary(request.tenant, trace_id)) is None:
            return self._error(404, "not_found", NOT_FOUND_TRACE)
        outcome = Outcome(body["success"], body.get("outcome"))
        await _read(store.outcomes.record(request.tenant, trace_id, outcome, services.now_ns()))
        return AdapterResponse(200, {"trace_id": as_uuid(trace_id), "success": outcome.success,
                                     "outcome": outcome.outcome})


def _outcome_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return f'the body must be a JSON object like {{"success": true, "outcome": "qualified"}}, got {describe(body)}'
    if "success" not in body:
        return "success: field required"
    if not isinstance(body["success"], bool):
        return f"success: expected a boolean, got {describe(body['success'])}"
    outcome = body.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        return f"outcome: expected a string or null, got {describe(outcome)}"
    return None


async def _read(operation: Any) -> Any:
    """Runs one read; a ClickHouse that cannot answer now is a 503 the client may retry."""
    try:
        return await operation
    except (ConnectionError, OSError) as error:
        raise ServiceUnavailable(f"stored traces cannot be read now: {error}") from error


async def _agent_names(store: TraceStore, services: Services, tenant: str, ids: Sequence[str]) -> list[str] | None:
    """The names of the tenant's agents with these ids, or None when one is not the tenant's.
    Known ids come from the state store; otherwise the tenant's agents are listed once from
    ClickHouse (agents of every source) and remembered."""
    keys = [f"{tenant}:{agent}" for agent in ids]
    known = services.state.get_many(AGENT_IDS_NAMESPACE, keys)
    if len(known) < len(set(keys)):
        agents = await _read(store.agents_by_id(tenant))
        await _remember_agents(services, tenant, {row["name"]: row["first_seen_ns"] for row in agents.values()})
        known = {f"{tenant}:{agent}": row["name"].encode() for agent, row in agents.items()}
    names = [known.get(key) for key in keys]
    if any(name is None for name in names):
        return None
    return [name.decode() for name in names if name is not None]


async def _remember_agents(services: Services, tenant: str, first_seen_ns: dict[str, int]) -> None:
    """Agent records for agents seen in stored traces (of any source) that have none yet, in the
    ingest route's namespace and shape, plus the id -> name entry compare-agents looks up."""
    keys = {name: f"{tenant}:{name}" for name in first_seen_ns}
    known = services.state.get_many(AGENTS_NAMESPACE, list(keys.values()))
    id_keys = {name: f"{tenant}:{agent_id(tenant, name)}" for name in first_seen_ns}
    known_ids = services.state.get_many(AGENT_IDS_NAMESPACE, list(id_keys.values()))
    writes = []
    for name, seen_ns in first_seen_ns.items():
        if keys[name] not in known:
            record = {"id": agent_id(tenant, name), "name": name, "tenant": tenant, "created_at": iso_time(seen_ns)}
            writes.append(StateWrite(AGENTS_NAMESPACE, keys[name], orjson.dumps(record), AGENT_RECORD_TTL_S))
        if id_keys[name] not in known_ids:
            writes.append(StateWrite(AGENT_IDS_NAMESPACE, id_keys[name], name.encode(), AGENT_RECORD_TTL_S))
    if writes:
        await services.write_state(writes)
