"""Trace outcomes (AgentVista's `PATCH .../outcome`) in the shared side table
`otel_trace_feedback`, beside AITracer's feedback: one row per (tenant, trace, source), the
latest `UpdatedAt` wins on read. The exporter creates the table with the rest of the schema
(exporters/clickhouse/sql/trace_feedback_table.sql)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import orjson

from spanhouse.collector.core.storage import FEEDBACK_TABLE, StorageClient
from spanhouse.collector.read.queries import run_query

# The `Source` of outcome rows; AITracer's feedback rows have their own source.
OUTCOME_SOURCE: Final = "agentvista.outcome"
OUTCOME_COLUMNS: Final = ("TenantId", "TraceId", "Source", "Success", "Outcome", "Payload", "UpdatedAt")


@dataclass(frozen=True, slots=True)
class Outcome:
    success: bool
    outcome: str | None


class OutcomeTable:
    def __init__(self, storage: StorageClient) -> None:
        self._storage = storage

    async def record(self, tenant: str, trace_id: str, outcome: Outcome, now_ns: int) -> None:
        """Stores the outcome; visible to the next read (the insert is synchronous)."""
        payload = orjson.dumps({"success": outcome.success, "outcome": outcome.outcome}).decode()
        columns: list[list[Any]] = [[tenant], [trace_id], [OUTCOME_SOURCE], [outcome.success],
                                    [outcome.outcome or ""], [payload], [now_ns]]
        await asyncio.to_thread(self._storage.insert_rows, FEEDBACK_TABLE, OUTCOME_COLUMNS, columns)

    async def latest(self, tenant: str, trace_id: str) -> dict[str, Any] | None:
        """{"success", "outcome", "updated_ns"} of the latest outcome, or None."""
        rows = await run_query(self._storage, "trace_outcome",
                               {"tenant": tenant, "trace_id": trace_id, "outcome_source": OUTCOME_SOURCE})
        return rows[0] if rows else None

    async def feedback(self, tenant: str, trace_id: str) -> list[dict[str, Any]]:
        """The latest signal per source (feedback, outcomes) about a trace."""
        return await run_query(self._storage, "trace_feedback", {"tenant": tenant, "trace_id": trace_id})
