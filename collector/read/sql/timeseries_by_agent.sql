-- Per agent and time bucket, over the traces whose root span starts in the window: trace
-- count, error rate (root span failed), p50/p95 of the root span's duration, tokens and cost
-- summed over each trace (as in _trace_summary.sql).
SELECT
    intDiv(started_ns, {step_ns:UInt64}) * {step_ns:UInt64} AS bucket_ns,
    agent_name AS series,
    count() AS count,
    countIf(root_error) / count() AS error_rate,
    quantile(0.5)(duration_ns) / 1e6 AS p50_ms,
    quantile(0.95)(duration_ns) / 1e6 AS p95_ms,
    sum(total_tokens) AS tokens,
    sum(total_cost_usd) AS cost_usd
FROM (
    SELECT TraceId, ${trace_summary}
    FROM {database:Identifier}.{traces_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
      AND Timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
    GROUP BY TraceId
    HAVING has_root AND ({agent:String} = '' OR agent_name = {agent:String})
)
GROUP BY bucket_ns, series
ORDER BY bucket_ns, series
