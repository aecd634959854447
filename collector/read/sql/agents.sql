-- The tenant's agents in a time window: an agent is named by the root span of a trace
-- (gen_ai.agent.name, else service.name), whatever source sent it. Ids are derived from the
-- name by the caller (adapters.agentvista.agent_id), so they need not be stored.
SELECT
    ${agent_name} AS name,
    count() AS trace_count,
    toUnixTimestamp64Nano(min(Timestamp)) AS first_seen_ns,
    toUnixTimestamp64Nano(max(Timestamp)) AS last_seen_ns
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND Timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
  AND ParentSpanId = ''
GROUP BY name
ORDER BY name
