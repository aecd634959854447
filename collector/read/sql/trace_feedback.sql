-- Every signal stored about one trace of the tenant (AITracer feedback, AgentVista outcomes,
-- ...), the latest per source, for the trace viewer.
SELECT
    source,
    latest.1 AS rating,
    latest.2 AS score,
    latest.3 AS comment,
    latest.4 AS success,
    latest.5 AS outcome,
    updated_ns
FROM (
    SELECT
        Source AS source,
        argMax((Rating, Score, Comment, Success, Outcome), UpdatedAt) AS latest,
        toUnixTimestamp64Nano(max(UpdatedAt)) AS updated_ns
    FROM {database:Identifier}.{feedback_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND TraceId = {trace_id:String}
    GROUP BY Source
)
ORDER BY source
