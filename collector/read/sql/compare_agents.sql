-- Two agents side by side, over every trace of the tenant whose root span names the agent.
-- Computed here, not by the caller: one row per agent that has traces. `success` is the
-- trace's latest recorded outcome (PATCH .../outcome, feedback) or, without one, what the
-- AgentVista trace header declared; success_rate counts only traces with a known outcome.
-- error_rate counts traces whose root span failed. Durations are the root spans'. The roots
-- are found by a scan of the tenant's root spans (a few narrow columns); their spans through
-- the trace-id lookup table's range and the TraceId index.
WITH roots AS (
    SELECT TraceId
    FROM {database:Identifier}.{traces_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND ParentSpanId = ''
      AND ${agent_name} IN ({agent_a:String}, {agent_b:String})
)
SELECT
    traces.agent_name AS name,
    count() AS trace_count,
    countIf(if(outcomes.recorded = 1, outcomes.success, traces.declared_success = 'true')) AS success_count,
    countIf(outcomes.recorded = 1 OR traces.declared_success != '') AS outcome_count,
    success_count / nullIf(outcome_count, 0) AS success_rate,
    countIf(traces.root_error) AS error_count,
    error_count / count() AS error_rate,
    avg(traces.duration_ns) / 1e6 AS avg_duration_ms,
    quantileExact(0.5)(traces.duration_ns) / 1e6 AS p50_duration_ms,
    quantileExact(0.95)(traces.duration_ns) / 1e6 AS p95_duration_ms,
    sum(traces.total_tokens) AS total_tokens,
    sum(traces.total_tokens) / count() AS avg_tokens_per_trace,
    sum(traces.total_cost_usd) AS total_cost_usd,
    sum(traces.total_cost_usd) / count() AS avg_cost_per_trace_usd,
    min(traces.started_ns) AS first_trace_ns,
    max(traces.started_ns) AS last_trace_ns
FROM (
    SELECT TraceId, ${trace_summary}
    FROM {database:Identifier}.{traces_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND TraceId IN roots
      AND Timestamp >= (SELECT toDateTime64(min(Start), 9) FROM {database:Identifier}.{lookup_table:Identifier}
                        WHERE TraceId IN roots)
      AND Timestamp < (SELECT toDateTime64(max(End) + 1, 9) FROM {database:Identifier}.{lookup_table:Identifier}
                       WHERE TraceId IN roots)
    GROUP BY TraceId
    HAVING has_root AND agent_name IN ({agent_a:String}, {agent_b:String})
) AS traces
LEFT JOIN (${latest_outcomes}) AS outcomes ON outcomes.TraceId = traces.TraceId
GROUP BY name
ORDER BY name
