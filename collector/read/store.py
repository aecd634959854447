"""Reads of stored traces for the query API and the AgentVista read routes: each method runs
one query of `sql/` for one tenant and returns its rows, or writes one outcome row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from spanhouse.collector.core.agents import agent_id
from spanhouse.collector.core.storage import StorageClient
from spanhouse.collector.read.outcomes import OUTCOME_SOURCE, OutcomeTable
from spanhouse.collector.read.params import MAX_UINT64, Window
from spanhouse.collector.read.queries import run_query

# A trace page past this many spans is cut (and says so): the viewer stays usable and one
# answer stays a few MiB at most.
MAX_SPANS_PER_TRACE: Final = 10_000
ALL_TIME: Final = Window(0, 2**63 - 1)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    window: Window
    service: str = ""
    span_name: str = ""
    agent: str = ""
    status_codes: tuple[str, ...] = ()
    min_duration_ns: int = 0
    max_duration_ns: int = MAX_UINT64
    attribute_items: tuple[str, ...] = ()
    name_pattern: str = ""
    limit: int = 20


class TraceStore:
    """The reads of the stored traces of one storage client (collector.core.storage)."""

    def __init__(self, storage: StorageClient) -> None:
        self._storage = storage
        self.outcomes = OutcomeTable(storage)

    async def search(self, tenant: str, filters: SearchFilters) -> list[dict[str, Any]]:
        return await run_query(self._storage, "search_traces", {
            "tenant": tenant, "start_ns": filters.window.start_ns, "end_ns": filters.window.end_ns,
            "service": filters.service, "span_name": filters.span_name, "agent": filters.agent,
            "status_codes": list(filters.status_codes), "min_duration_ns": filters.min_duration_ns,
            "max_duration_ns": filters.max_duration_ns, "attribute_items": list(filters.attribute_items),
            "name_pattern": filters.name_pattern, "limit": filters.limit})

    async def trace_spans(self, tenant: str, trace_id: str) -> list[dict[str, Any]]:
        """The spans of a trace ordered by start; [] for an unknown trace or another tenant's."""
        return await run_query(self._storage, "trace_spans",
                               {"tenant": tenant, "trace_id": trace_id, "max_spans": MAX_SPANS_PER_TRACE})

    async def trace_summary(self, tenant: str, trace_id: str) -> dict[str, Any] | None:
        """The trace summed up as in search results; None for an unknown or another tenant's trace."""
        rows = await run_query(self._storage, "trace_summary", {"tenant": tenant, "trace_id": trace_id})
        return rows[0] if rows else None

    async def services(self, tenant: str, window: Window) -> list[dict[str, Any]]:
        return await run_query(self._storage, "services",
                               {"tenant": tenant, "start_ns": window.start_ns, "end_ns": window.end_ns})

    async def agents(self, tenant: str, window: Window = ALL_TIME) -> list[dict[str, Any]]:
        return await run_query(self._storage, "agents",
                               {"tenant": tenant, "start_ns": window.start_ns, "end_ns": window.end_ns})

    async def agents_by_id(self, tenant: str) -> dict[str, dict[str, Any]]:
        """Every agent of the tenant (all time) by its derived id (collector.core.agents.agent_id)."""
        return {agent_id(tenant, row["name"]): row for row in await self.agents(tenant)}

    async def compare_agents(self, tenant: str, agent_a: str, agent_b: str) -> list[dict[str, Any]]:
        """One stat row per named agent that has traces (see sql/compare_agents.sql)."""
        return await run_query(self._storage, "compare_agents", {
            "tenant": tenant, "agent_a": agent_a, "agent_b": agent_b, "outcome_source": OUTCOME_SOURCE})

    async def timeseries(self, tenant: str, group_by: str, window: Window, step_ns: int,
                         series: str = "") -> list[dict[str, Any]]:
        """Buckets per agent (`group_by` "agent") or per model ("model")."""
        parameters: dict[str, Any] = {"tenant": tenant, "start_ns": window.start_ns, "end_ns": window.end_ns,
                                      "step_ns": step_ns, group_by: series}
        return await run_query(self._storage, f"timeseries_by_{group_by}", parameters)

    async def trace_outcome(self, tenant: str, trace_id: str) -> dict[str, Any] | None:
        return await self.outcomes.latest(tenant, trace_id)
