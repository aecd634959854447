"""Every read query of collector/read/sql against the embedded engine holding
known traces of three sources and two tenants: exact answers, tenant isolation, and the
indexes each query uses (EXPLAIN indexes = 1)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from spanhouse.collector.read.outcomes import Outcome
from spanhouse.collector.read.params import MAX_UINT64, Window
from spanhouse.collector.read.queries import SQL_DIR, load_query, placeholders, table_parameters
from spanhouse.collector.read.store import SearchFilters
from tests.read.conftest import BASE_NS, StoredTraces
from tests.read.sample_traces import AGENTVISTA_TRACE_HEX, OTLP_TRACE_HEX, PLAIN_TRACE_HEX, otlp_traces

ALL_TIME = Window(0, 2**63 - 1)
SECOND_NS = 1_000_000_000
QUERIES = sorted(path.stem for path in SQL_DIR.glob("*.sql") if not path.stem.startswith("_"))


async def search(stored: StoredTraces, tenant: str = "default", **filters: Any) -> list[str]:
    rows = await stored.store.search(tenant, SearchFilters(window=filters.pop("window", ALL_TIME), **filters))
    return [row["trace_id"] for row in rows]


@pytest.mark.parametrize("name", QUERIES)
def test_every_query_is_one_parameterised_statement_for_one_tenant(name: str) -> None:
    sql = load_query(name)
    assert "${" not in sql and "$" not in sql
    assert "TenantId = {tenant:String}" in sql
    assert ";" not in sql  # one statement
    # Tables only through Identifier parameters, never written into the text.
    assert "otel_traces" not in sql and "otel." not in sql
    assert {"database"} <= placeholders(sql)


async def test_search_filters(stored: StoredTraces) -> None:
    newest_first = [PLAIN_TRACE_HEX, OTLP_TRACE_HEX, AGENTVISTA_TRACE_HEX]
    assert await search(stored) == newest_first
    assert await search(stored, limit=2) == newest_first[:2]
    assert await search(stored, service="support-bot") == [OTLP_TRACE_HEX]
    assert await search(stored, span_name="gpt-4o classify") == [AGENTVISTA_TRACE_HEX]
    assert await search(stored, agent="triage") == [OTLP_TRACE_HEX]
    assert await search(stored, agent="lead-qualifier") == [AGENTVISTA_TRACE_HEX]
    assert await search(stored, status_codes=("Error", "STATUS_CODE_ERROR")) == [PLAIN_TRACE_HEX, OTLP_TRACE_HEX]
    assert await search(stored, min_duration_ns=1_500_000_000) == [AGENTVISTA_TRACE_HEX]
    assert await search(stored, max_duration_ns=60_000_000) == [OTLP_TRACE_HEX]  # the 50 ms tool call
    assert await search(stored, attribute_items=("gen_ai.tool.name=lookup_order",)) == [OTLP_TRACE_HEX]
    assert await search(stored, attribute_items=("gen_ai.request.model=gpt-4o",)) \
        == [OTLP_TRACE_HEX, AGENTVISTA_TRACE_HEX]
    assert await search(stored, attribute_items=("gen_ai.request.model=gpt-4o", "agentvista.type=llm")) \
        == [AGENTVISTA_TRACE_HEX]
    assert await search(stored, name_pattern="%lookup%") == [OTLP_TRACE_HEX]
    assert await search(stored, name_pattern="%charge%") == [PLAIN_TRACE_HEX]
    # Every filter must hold on the same span.
    assert await search(stored, service="billing", attribute_items=("gen_ai.tool.name=lookup_order",)) == []
    minute_after = Window(BASE_NS + 30 * SECOND_NS, BASE_NS + 90 * SECOND_NS)
    assert await search(stored, window=minute_after) == [PLAIN_TRACE_HEX, OTLP_TRACE_HEX]


async def test_search_summaries_count_every_span_of_a_matched_trace(stored: StoredTraces) -> None:
    (row,) = await stored.store.search("default", SearchFilters(window=ALL_TIME, name_pattern="%lookup%"))
    assert row | {"started_ns": 0} == {
        "trace_id": OTLP_TRACE_HEX, "agent_name": "triage", "root_service": "support-bot",
        "root_name": "invoke_agent triage", "started_ns": 0, "duration_ns": 1_200_000_000, "root_error": 0,
        "has_root": 1, "span_count": 4, "error_count": 1, "total_tokens": 420, "total_cost_usd": 0.75,
        "has_usage": 1, "declared_success": "", "declared_outcome": ""}
    (agentvista,) = await stored.store.search("default", SearchFilters(window=ALL_TIME, agent="lead-qualifier"))
    # The AgentVista header declares the totals: not summed again from its LLM span.
    assert (agentvista["total_tokens"], agentvista["total_cost_usd"]) == (1500, 0.0045)
    assert (agentvista["declared_success"], agentvista["declared_outcome"]) == ("true", "qualified")


async def test_tenants_never_see_each_other(stored: StoredTraces) -> None:
    assert await search(stored, tenant="other") == [PLAIN_TRACE_HEX, OTLP_TRACE_HEX]
    assert await search(stored, tenant="nobody") == []
    assert await stored.store.trace_spans("other", AGENTVISTA_TRACE_HEX) == []
    assert await stored.store.trace_summary("other", AGENTVISTA_TRACE_HEX) is None
    other_spans = await stored.store.trace_spans("other", OTLP_TRACE_HEX)
    default_spans = await stored.store.trace_spans("default", OTLP_TRACE_HEX)
    assert len(other_spans) == len(default_spans) == 4
    assert other_spans[0]["start_ns"] - default_spans[0]["start_ns"] == 3540 * SECOND_NS
    assert [row["name"] for row in await stored.store.agents("other")] == ["billing", "triage"]
    assert await stored.store.compare_agents("other", "lead-qualifier", "triage") != \
        await stored.store.compare_agents("default", "lead-qualifier", "triage")


async def test_trace_spans_in_start_order_and_stored_twice_read_once(stored: StoredTraces) -> None:
    await stored.exporter.consume(otlp_traces(BASE_NS + 60 * SECOND_NS))  # the same spans again
    rows = await stored.store.trace_spans("default", OTLP_TRACE_HEX)
    assert [(row["name"], row["parent_span_id"]) for row in rows] == [
        ("invoke_agent triage", ""), ("chat gpt-4o-mini", "a1a2a3a4a5a6a7a8"),
        ("execute_tool lookup_order", "a1a2a3a4a5a6a7a8"), ("chat gpt-4o", "a1a2a3a4a5a6a7a8")]
    tool = rows[2]
    assert (tool["event_names"], tool["event_attributes"]) == (["order.found"], [{"order.id": "42"}])
    assert tool["event_times_ns"] == [BASE_NS + 60 * SECOND_NS + 320_000_000]
    assert rows[3]["status_code"] == "Error" and rows[3]["status_message"] == "rate limited"


async def test_services_agents_and_time_series(stored: StoredTraces) -> None:
    services = await stored.store.services("default", ALL_TIME)
    assert [(row["name"], row["span_count"], row["trace_count"]) for row in services] == [
        ("billing", 1, 1), ("lead-qualifier", 2, 1), ("support-bot", 4, 1)]
    agents = await stored.store.agents("default")
    assert [(row["name"], row["trace_count"]) for row in agents] == [
        ("billing", 1), ("lead-qualifier", 1), ("triage", 1)]
    hour = 3600 * SECOND_NS
    by_agent = await stored.store.timeseries("default", "agent", ALL_TIME, hour)
    assert [(row["series"], row["count"], row["error_rate"], row["p50_ms"], row["tokens"], row["cost_usd"])
            for row in by_agent] == [("billing", 1, 1.0, 80.0, 0, 0.0),
                                     ("lead-qualifier", 1, 0.0, 2000.0, 1500, 0.0045),
                                     ("triage", 1, 0.0, 1200.0, 420, 0.75)]
    assert {row["bucket_ns"] for row in by_agent} == {BASE_NS // hour * hour}
    by_model = await stored.store.timeseries("default", "model", ALL_TIME, hour)
    assert [(row["series"], row["count"], row["error_rate"], row["p50_ms"], row["p95_ms"], row["tokens"])
            for row in by_model] == [("gpt-4o", 2, 0.5, 1300.0, 1840.0, 1220),
                                     ("gpt-4o-mini", 1, 0.0, 250.0, 250.0, 120)]
    only = await stored.store.timeseries("default", "model", ALL_TIME, hour, "gpt-4o-mini")
    assert [row["series"] for row in only] == ["gpt-4o-mini"]


async def test_compare_agents_in_clickhouse_with_outcomes(stored: StoredTraces) -> None:
    rows = await stored.store.compare_agents("default", "lead-qualifier", "triage")
    by_name = {row["name"]: row for row in rows}
    assert by_name["lead-qualifier"] == {
        "name": "lead-qualifier", "trace_count": 1, "success_count": 1, "outcome_count": 1, "success_rate": 1.0,
        "error_count": 0, "error_rate": 0.0, "avg_duration_ms": 2000.0, "p50_duration_ms": 2000.0,
        "p95_duration_ms": 2000.0, "total_tokens": 1500, "avg_tokens_per_trace": 1500.0, "total_cost_usd": 0.0045,
        "avg_cost_per_trace_usd": 0.0045, "first_trace_ns": BASE_NS, "last_trace_ns": BASE_NS}
    assert (by_name["triage"]["outcome_count"], by_name["triage"]["success_rate"]) == (0, None)
    # A recorded outcome overrides what the trace was sent with; the latest one wins.
    await stored.store.outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(True, "first"), BASE_NS)
    await stored.store.outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(False, "rejected"), BASE_NS + 1)
    await stored.store.outcomes.record("default", OTLP_TRACE_HEX, Outcome(True, None), BASE_NS)
    rows = await stored.store.compare_agents("default", "lead-qualifier", "triage")
    assert [(row["name"], row["success_count"], row["outcome_count"], row["success_rate"]) for row in rows] == [
        ("lead-qualifier", 0, 1, 0.0), ("triage", 1, 1, 1.0)]
    assert await stored.store.compare_agents("default", "nobody", "triage") == [rows[1]]


async def test_outcomes_latest_wins_and_null_reads_back_as_null(stored: StoredTraces) -> None:
    outcomes = stored.store.outcomes
    assert await outcomes.latest("default", AGENTVISTA_TRACE_HEX) is None
    await outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(True, "qualified"), BASE_NS + 2)
    await outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(False, None), BASE_NS + 5)
    await outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(True, "stale"), BASE_NS + 3)  # older: loses
    assert await outcomes.latest("default", AGENTVISTA_TRACE_HEX) == {
        "success": False, "outcome": None, "updated_ns": BASE_NS + 5}
    await outcomes.record("default", AGENTVISTA_TRACE_HEX, Outcome(True, ""), BASE_NS + 6)
    assert (await outcomes.latest("default", AGENTVISTA_TRACE_HEX) or {})["outcome"] == ""
    assert await outcomes.latest("other", AGENTVISTA_TRACE_HEX) is None
    # Feedback of another source (AITracer's) in the same side table is listed beside it.
    storage = stored.exporter.storage_client()
    storage.insert_rows("otel_trace_feedback", ["TenantId", "TraceId", "Source", "Rating", "Comment", "UpdatedAt"],
                        [["default"], [AGENTVISTA_TRACE_HEX], ["aitracer.feedback"], [1], ["great"], [BASE_NS]])
    feedback = await outcomes.feedback("default", AGENTVISTA_TRACE_HEX)
    assert [(row["source"], row["rating"], row["comment"], row["success"]) for row in feedback] == [
        ("agentvista.outcome", 0, "", True), ("aitracer.feedback", 1, "great", None)]


def _explain(stored: StoredTraces, sql: str, parameters: dict[str, Any]) -> str:
    given = {**table_parameters(stored.exporter.storage_client()), **parameters}
    storage = stored.exporter.storage_client()
    _, rows = storage.query("EXPLAIN indexes = 1 " + sql, {key: given[key] for key in placeholders(sql)})
    return "\n".join(str(row[0]) for row in rows)


def test_search_uses_the_schema_indexes(stored: StoredTraces) -> None:
    sql = load_query("search_traces")
    match = re.search(r"WITH matched AS \((.*?)\n\)\nSELECT", sql, re.DOTALL)
    assert match is not None
    plan = _explain(stored, match.group(1), {
        "tenant": "default", "start_ns": BASE_NS, "end_ns": BASE_NS + 100 * SECOND_NS, "service": "support-bot",
        "span_name": "", "agent": "", "status_codes": [], "min_duration_ns": 1000, "max_duration_ns": MAX_UINT64,
        "attribute_items": ["gen_ai.tool.name=lookup_order"], "name_pattern": "%lookup%", "limit": 20})
    assert "Condition: and((Timestamp in (-Inf, '1705312900'])" in plan  # minmax on Timestamp
    assert "Keys:\n                     toDate(Timestamp)" in plan  # the partition key
    assert "ServiceName in ['support-bot', 'support-bot']" in plan  # the primary key
    assert "Name: idx_duration" in plan and "Condition: (Duration in [1000, +Inf))" in plan
    assert "Name: idx_span_attr_items" in plan and '"gen_ai.tool.name=lookup_order"' in plan
    assert "Name: idx_lower_span_name" in plan
    # The neutral filters fold away instead of hiding the indexes behind an OR.
    assert "AND 1 AND 1 AND 1 AND" in plan


@pytest.mark.parametrize("name", ["trace_spans", "trace_summary"])
def test_a_trace_by_id_reads_its_time_range_through_the_lookup_table(stored: StoredTraces, name: str) -> None:
    plan = _explain(stored, load_query(name), {"tenant": "default", "trace_id": OTLP_TRACE_HEX, "max_spans": 100})
    # The range from otel_traces_trace_id_ts: the trace's first span start to the last one's
    # second (the other tenant's copy an hour later shares the id, so the range covers it).
    assert "Condition: and((Timestamp in (-Inf, '1705316401')), (Timestamp in ['1705312860', +Inf)))" in plan
    assert "Parts: 2/3" in plan  # the AgentVista part, a minute earlier, is not read
    assert "Name: idx_trace_id" in plan and f'tokens: ["{OTLP_TRACE_HEX}"]' in plan
