-- One trace of the tenant, every span, ordered by start. The trace-id lookup table gives the
-- trace's time range first, so that only the partitions and granules of that range are read
-- (with the TraceId index inside them). A span stored twice (the same TraceId and SpanId) is
-- returned once.
SELECT
    toUnixTimestamp64Nano(Timestamp) AS start_ns,
    Duration AS duration_ns,
    TraceId AS trace_id,
    SpanId AS span_id,
    ParentSpanId AS parent_span_id,
    SpanName AS name,
    SpanKind AS kind,
    ServiceName AS service_name,
    StatusCode AS status_code,
    StatusMessage AS status_message,
    ScopeName AS scope_name,
    ScopeVersion AS scope_version,
    SpanAttributes AS attributes,
    ResourceAttributes AS resource_attributes,
    arrayMap(moment -> toUnixTimestamp64Nano(moment), Events.Timestamp) AS event_times_ns,
    Events.Name AS event_names,
    Events.Attributes AS event_attributes,
    Links.TraceId AS link_trace_ids,
    Links.SpanId AS link_span_ids,
    Links.Attributes AS link_attributes
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND TraceId = {trace_id:String}
  AND Timestamp >= (SELECT toDateTime64(min(Start), 9) FROM {database:Identifier}.{lookup_table:Identifier}
                    WHERE TraceId = {trace_id:String})
  AND Timestamp < (SELECT toDateTime64(max(End) + 1, 9) FROM {database:Identifier}.{lookup_table:Identifier}
                   WHERE TraceId = {trace_id:String})
ORDER BY Timestamp, SpanId
LIMIT 1 BY SpanId
LIMIT {max_spans:UInt32}
