-- Per model and time bucket, over the model-call spans that start in the window (spans with
-- a model that are not agent or workflow aggregates): call count, error rate, p50/p95 of the
-- call's duration, tokens and cost.
SELECT
    intDiv(toUnixTimestamp64Nano(Timestamp), {step_ns:UInt64}) * {step_ns:UInt64} AS bucket_ns,
    ${model} AS series,
    count() AS count,
    countIf(${is_error}) / count() AS error_rate,
    quantile(0.5)(Duration) / 1e6 AS p50_ms,
    quantile(0.95)(Duration) / 1e6 AS p95_ms,
    sum(${span_tokens}) AS tokens,
    sum(${span_cost}) AS cost_usd
FROM {database:Identifier}.{traces_table:Identifier}
WHERE TenantId = {tenant:String}
  AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND Timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
  AND NOT ${is_aggregate_span}
  AND series != ''
  AND ({model:String} = '' OR series = {model:String})
GROUP BY bucket_ns, series
ORDER BY bucket_ns, series
