"""Stored spans of any source in the shape of AgentVista's read API: the trace header (from the
root span and sums over the spans) and the vendor span objects of `GET /dashboard/traces/{id}`.
Pure functions of query rows; docs/read-api.md documents every field."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from spanhouse.adapters.agentvista.spans import SCOPE_NAME
from spanhouse.collector.core.agents import agent_id
from spanhouse.collector.read.params import iso_time
from spanhouse.collector.read.views import declared_success, milliseconds

# gen_ai.operation.name -> the AgentVista span `type` it reads back as (the inverse of
# adapters/agentvista/spans.py's _OPERATIONS, one type per operation).
_TYPES: Final = {"chat": "llm", "generate_content": "llm", "text_completion": "completion",
                 "embeddings": "embedding", "retrieval": "retrieval", "execute_tool": "tool",
                 "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "workflow"}
_ERROR_CODES: Final = frozenset({"Error", "STATUS_CODE_ERROR"})


def as_uuid(trace_id_hex: str) -> str:
    return str(uuid.UUID(hex=trace_id_hex))


def _is_synthetic_root(row: Mapping[str, Any]) -> bool:
    """The span the AgentVista adapter made of a trace header: it is the header, not a span."""
    return row["scope_name"] == SCOPE_NAME and not row["parent_span_id"] \
        and "agentvista.span_id" not in row["attributes"]


def _root(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The span without a parent, else the earliest (rows are ordered by start)."""
    return next((row for row in rows if not row["parent_span_id"]), rows[0])


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _status(row: Mapping[str, Any]) -> str | None:
    attributes = row["attributes"]
    vendor = attributes.get("agentvista.status")
    if vendor:
        return str(vendor)
    if row["status_code"] in _ERROR_CODES:
        return "failed"
    # AgentVista sent no status, so the span was stored Unset: it reads back as sent (null),
    # not as a `completed` it never claimed. Other sources' finished spans read `completed`.
    return None if "agentvista.trace_id" in attributes else "completed"


def _error_message(row: Mapping[str, Any]) -> str | None:
    vendor = row["attributes"].get("agentvista.error_message")
    if vendor:
        return str(vendor)
    if row["status_code"] in _ERROR_CODES:
        return str(row["status_message"]) or None
    return None


def _times(row: Mapping[str, Any]) -> tuple[str, str | None, float | None]:
    """started_at, ended_at, duration_ms. A running AgentVista trace (sent without an end) has
    no end: the adapter stored it with zero duration."""
    attributes = row["attributes"]
    running = attributes.get("agentvista.status") == "running" and row["duration_ns"] == 0
    declared_ms = _float(attributes.get("agentvista.duration_ms"))
    if running:
        return iso_time(row["start_ns"]), None, declared_ms
    duration_ms = declared_ms if declared_ms is not None else milliseconds(row["duration_ns"])
    return iso_time(row["start_ns"]), iso_time(row["start_ns"] + row["duration_ns"]), duration_ms


def trace_header(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], outcome: Mapping[str, Any] | None,
                 tenant: str) -> dict[str, Any]:
    """The header fields of `GET /dashboard/traces/{trace_id}`. `summary` is the trace's row of
    sql/trace_summary.sql (totals the same way search and compare-agents count them); `outcome`
    the latest recorded outcome, which overrides what the trace was sent with."""
    root = _root(rows)
    attributes = root["attributes"]
    started_at, ended_at, duration_ms = _times(root)
    if outcome is not None:
        success, outcome_text = outcome["success"], outcome["outcome"]
    else:
        success = declared_success(attributes.get("agentvista.success", ""))
        outcome_text = attributes.get("agentvista.outcome") or None
    has_usage = bool(summary["has_usage"])
    metadata = _json(attributes.get("agentvista.metadata")) if "agentvista.trace_id" in attributes \
        else dict(root["resource_attributes"]) or None
    return {
        "trace_id": as_uuid(root["trace_id"]),
        "agent_id": agent_id(tenant, summary["agent_name"]),
        "agent_name": summary["agent_name"],
        "status": _status(root),
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_ms": duration_ms,
        "success": success,
        "outcome": outcome_text,
        "error_message": _error_message(root),
        "total_tokens": summary["total_tokens"] if has_usage else None,
        "total_cost_usd": summary["total_cost_usd"] if has_usage else None,
        "metadata": metadata,
    }


def vendor_spans(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every span but an AgentVista trace header, ordered by start, in AgentVista's span shape.
    Ids are AgentVista's UUIDs where the span came from AgentVista, else the stored hex ids;
    a parent that is the trace header (or none) reads as null."""
    spans = [row for row in rows if not _is_synthetic_root(row)]
    headers = {row["span_id"] for row in rows if _is_synthetic_root(row)}
    vendor_ids = {row["span_id"]: str(row["attributes"].get("agentvista.span_id") or row["span_id"])
                  for row in spans}
    return [_vendor_span(row, vendor_ids, headers) for row in spans]


def _parent(row: Mapping[str, Any], vendor_ids: Mapping[str, str], headers: set[str]) -> str | None:
    parent = row["parent_span_id"]
    if not parent or parent in headers:
        return None
    if parent in vendor_ids:
        return vendor_ids[parent]
    # A parent not stored (yet): AgentVista's own id of it when the span came with one.
    return str(row["attributes"].get("agentvista.parent_span_id") or parent)


def _vendor_span(row: Mapping[str, Any], vendor_ids: Mapping[str, str], headers: set[str]) -> dict[str, Any]:
    attributes = row["attributes"]
    started_at, ended_at, duration_ms = _times(row)
    operation = attributes.get("gen_ai.operation.name", "")
    vendor_type = attributes.get("agentvista.type") or _TYPES.get(operation) \
        or (attributes.get("openinference.span.kind") or "span").lower()
    input_tokens = _int(attributes.get("gen_ai.usage.input_tokens"))
    output_tokens = _int(attributes.get("gen_ai.usage.output_tokens"))
    total_tokens = _int(attributes.get("agentvista.total_tokens")) or _int(attributes.get("llm.token_count.total"))
    if total_tokens is None and (input_tokens is not None or output_tokens is not None):
        total_tokens = (input_tokens or 0) + (output_tokens or 0)
    model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model") \
        or attributes.get("llm.model_name") or None
    return {
        "span_id": vendor_ids[row["span_id"]],
        "trace_id": as_uuid(row["trace_id"]),
        "parent_span_id": _parent(row, vendor_ids, headers),
        "type": vendor_type,
        "name": row["name"],
        "status": _status(row),
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_ms": duration_ms,
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": total_tokens,
        "cost_usd": _float(attributes.get("gen_ai.usage.cost")) if "gen_ai.usage.cost" in attributes
        else _float(attributes.get("llm.cost.total")),
        "error_message": _error_message(row),
        "metadata": _json(attributes.get("agentvista.metadata")),
        "service_name": row["service_name"],
        "attributes": dict(attributes),
    }
