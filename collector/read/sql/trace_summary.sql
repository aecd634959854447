-- One trace of the tenant summed up as in search results (_trace_summary.sql), through the
-- trace-id lookup table's time range; no row for an unknown trace or another tenant's.
SELECT
    TraceId AS trace_id,
    ${trace_summary}
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND TraceId = {trace_id:String}
  AND Timestamp >= (SELECT toDateTime64(min(Start), 9) FROM {database:Identifier}.{lookup_table:Identifier}
                    WHERE TraceId = {trace_id:String})
  AND Timestamp < (SELECT toDateTime64(max(End) + 1, 9) FROM {database:Identifier}.{lookup_table:Identifier}
                   WHERE TraceId = {trace_id:String})
GROUP BY TraceId
