"""Rows of the read queries as the JSON the query API answers (and the AgentVista read routes
reuse): times in ISO 8601 and nanoseconds, durations in milliseconds, ids as stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from spanhouse.collector.core.agents import agent_id
from spanhouse.collector.read.params import NANOS_PER_MILLISECOND, iso_time

# What compare-agents answers per agent, in this order (sql/compare_agents.sql computes them).
AGENT_STAT_FIELDS: Final = (
    "trace_count", "success_count", "outcome_count", "success_rate", "error_count", "error_rate",
    "avg_duration_ms", "p50_duration_ms", "p95_duration_ms", "total_tokens", "avg_tokens_per_trace",
    "total_cost_usd", "avg_cost_per_trace_usd")


def milliseconds(nanos: int) -> float:
    return nanos / NANOS_PER_MILLISECOND


def declared_success(text: str) -> bool | None:
    """An AgentVista root's `agentvista.success` attribute ("true" / "false" / absent)."""
    return {"true": True, "false": False}.get(text)


def trace_summary_json(row: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """A search result: one trace summed up (sql/_trace_summary.sql)."""
    has_usage = bool(row["has_usage"])
    return {
        "trace_id": row["trace_id"],
        "root_service": row["root_service"],
        "root_name": row["root_name"],
        "agent_name": row["agent_name"],
        "agent_id": agent_id(tenant, row["agent_name"]),
        "started_at": iso_time(row["started_ns"]),
        "start_ns": row["started_ns"],
        "duration_ms": milliseconds(row["duration_ns"]),
        "span_count": row["span_count"],
        "error_count": row["error_count"],
        "status": "error" if row["root_error"] or row["error_count"] else "ok",
        "has_root": bool(row["has_root"]),
        "total_tokens": row["total_tokens"] if has_usage else None,
        "total_cost_usd": row["total_cost_usd"] if has_usage else None,
    }


def span_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A span as stored, for the viewer's waterfall and side panel."""
    events = [{"time": iso_time(time_ns), "time_ns": time_ns, "name": name, "attributes": attributes}
              for time_ns, name, attributes in zip(row["event_times_ns"], row["event_names"],
                                                   row["event_attributes"], strict=True)]
    links = [{"trace_id": trace_id, "span_id": span_id, "attributes": attributes}
             for trace_id, span_id, attributes in zip(row["link_trace_ids"], row["link_span_ids"],
                                                      row["link_attributes"], strict=True)]
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"] or None,
        "name": row["name"],
        "kind": row["kind"],
        "service_name": row["service_name"],
        "started_at": iso_time(row["start_ns"]),
        "start_ns": row["start_ns"],
        "duration_ms": milliseconds(row["duration_ns"]),
        "status_code": row["status_code"],
        "status_message": row["status_message"],
        "scope": {"name": row["scope_name"], "version": row["scope_version"]},
        "attributes": row["attributes"],
        "resource_attributes": row["resource_attributes"],
        "events": events,
        "links": links,
    }


def agent_stats_json(name: str, row: Mapping[str, Any] | None, tenant: str) -> dict[str, Any]:
    """One agent's stats; an agent without traces gets zero counts and null rates."""
    stats: dict[str, Any] = {"agent_id": agent_id(tenant, name), "agent_name": name}
    if row is None:
        stats.update({field: 0 for field in AGENT_STAT_FIELDS})
        stats.update({field: None for field in ("success_rate", "error_rate", "avg_duration_ms", "p50_duration_ms",
                                                "p95_duration_ms", "avg_tokens_per_trace",
                                                "avg_cost_per_trace_usd")})
        stats.update(first_trace_at=None, last_trace_at=None)
        return stats
    stats.update({field: row[field] for field in AGENT_STAT_FIELDS})
    stats.update(first_trace_at=iso_time(row["first_trace_ns"]), last_trace_at=iso_time(row["last_trace_ns"]))
    return stats


def agent_json(row: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    return {"id": agent_id(tenant, row["name"]), "name": row["name"], "trace_count": row["trace_count"],
            "first_seen": iso_time(row["first_seen_ns"]), "last_seen": iso_time(row["last_seen_ns"])}


def service_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "span_count": row["span_count"], "trace_count": row["trace_count"],
            "last_seen": iso_time(row["last_seen_ns"])}


def bucket_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"time": iso_time(row["bucket_ns"]), "time_ns": row["bucket_ns"], "series": row["series"],
            "count": row["count"], "error_rate": row["error_rate"], "p50_ms": row["p50_ms"], "p95_ms": row["p95_ms"],
            "tokens": row["tokens"], "cost_usd": row["cost_usd"]}


def feedback_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"source": row["source"], "rating": row["rating"], "score": row["score"], "comment": row["comment"],
            "success": row["success"], "outcome": row["outcome"], "updated_at": iso_time(row["updated_ns"])}
