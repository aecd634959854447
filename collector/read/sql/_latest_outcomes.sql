-- The latest outcome per trace of the tenant, from the shared side table otel_trace_feedback
-- (exporters/clickhouse/sql/trace_feedback_table.sql; a ReplacingMergeTree, so rows not yet
-- merged are collapsed here: the highest UpdatedAt wins).
SELECT
    TraceId,
    argMax(Success, UpdatedAt) AS success,
    -- 1 on every row here; 0 on the rows a LEFT JOIN finds no outcome for (join_use_nulls
    -- cannot be set on a read-only connection, so unmatched columns get their defaults).
    toUInt8(1) AS recorded
FROM {database:Identifier}.{feedback_table:Identifier}
WHERE TenantId = {tenant:String}
  AND Source = {outcome_source:String}
GROUP BY TraceId
