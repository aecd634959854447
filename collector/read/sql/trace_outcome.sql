-- The latest outcome recorded for one trace of the tenant (PATCH .../outcome; latest wins).
-- Outcome is a String column: a null outcome is kept as '' with the request in Payload, so
-- that "outcome": null and "outcome": "" read back as sent.
SELECT
    latest.1 AS success,
    if(latest.2 = '' AND JSONType(latest.3, 'outcome') != 'String', NULL, latest.2) AS outcome,
    updated_ns
FROM (
    SELECT
        argMax((Success, Outcome, Payload), UpdatedAt) AS latest,
        toUnixTimestamp64Nano(max(UpdatedAt)) AS updated_ns
    FROM {database:Identifier}.{feedback_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND TraceId = {trace_id:String}
      AND Source = {outcome_source:String}
    HAVING count() > 0
)
