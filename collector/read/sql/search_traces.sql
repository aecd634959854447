-- Search: the tenant's traces that have at least one span matching every filter, newest
-- first, each summed up over all its spans. A filter at its neutral value ('' / [] / 0 / the
-- largest duration) matches every span, and folds to a constant before index analysis.
-- Indexes used: partition (toDate) and minmax on Timestamp for the window; the primary key for
-- service and span name; the text (or bloom filter) index on SpanAttributeItems for attribute
-- equality; tokenbf on lower(SpanName) for free text; minmax on Duration. The second read is
-- bounded by the trace-id lookup table and finds the spans through the TraceId index.
WITH matched AS (
    SELECT TraceId
    FROM {database:Identifier}.{traces_table:Identifier}
    WHERE TenantId = {tenant:String}
      AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
      AND Timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
      AND ({service:String} = '' OR ServiceName = {service:String})
      AND ({span_name:String} = '' OR SpanName = {span_name:String})
      AND ({agent:String} = '' OR ${agent_name} = {agent:String})
      AND (empty({status_codes:Array(String)}) OR has({status_codes:Array(String)}, StatusCode))
      AND Duration >= {min_duration_ns:UInt64}
      AND Duration <= {max_duration_ns:UInt64}
      AND hasAll(SpanAttributeItems, {attribute_items:Array(String)})
      AND ({name_pattern:String} = '' OR lower(SpanName) LIKE {name_pattern:String})
      AND TraceId != ''
    GROUP BY TraceId
    ORDER BY max(Timestamp) DESC, TraceId
    LIMIT {limit:UInt32}
)
SELECT
    TraceId AS trace_id,
    ${trace_summary}
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND TraceId IN matched
  AND Timestamp >= (SELECT toDateTime64(min(Start), 9) FROM {database:Identifier}.{lookup_table:Identifier}
                    WHERE TraceId IN matched)
  AND Timestamp < (SELECT toDateTime64(max(End) + 1, 9) FROM {database:Identifier}.{lookup_table:Identifier}
                   WHERE TraceId IN matched)
GROUP BY TraceId
ORDER BY started_ns DESC, trace_id
