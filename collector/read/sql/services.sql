-- The tenant's services in a time window, with their span and trace counts. ServiceName is
-- the first primary key column, so this reads little beyond it within the window's partitions.
SELECT
    ServiceName AS name,
    count() AS span_count,
    uniq(TraceId) AS trace_count,
    toUnixTimestamp64Nano(max(Timestamp)) AS last_seen_ns
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND Timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
GROUP BY ServiceName
ORDER BY ServiceName
