-- The columns that sum up one trace, for a SELECT ... GROUP BY TraceId over its spans. The
-- root is the span without a parent (the earliest span when the root has not arrived). An
-- AgentVista root declares its trace's totals (agentvista.total_tokens, total_cost_usd) and
-- business outcome (agentvista.success / outcome); elsewhere totals are summed over the spans
-- that are not aggregates themselves.
argMin(${agent_name}, (ParentSpanId != '', Timestamp)) AS agent_name,
argMin(ServiceName, (ParentSpanId != '', Timestamp)) AS root_service,
argMin(SpanName, (ParentSpanId != '', Timestamp)) AS root_name,
argMin(toUnixTimestamp64Nano(Timestamp), (ParentSpanId != '', Timestamp)) AS started_ns,
argMin(Duration, (ParentSpanId != '', Timestamp)) AS duration_ns,
argMin(${is_error}, (ParentSpanId != '', Timestamp)) AS root_error,
countIf(ParentSpanId = '') > 0 AS has_root,
count() AS span_count,
countIf(${is_error}) AS error_count,
if(maxIf(SpanAttributes['agentvista.total_tokens'], ParentSpanId = '') != '',
   toUInt64OrZero(maxIf(SpanAttributes['agentvista.total_tokens'], ParentSpanId = '')),
   sumIf(${span_tokens}, NOT ${is_aggregate_span})) AS total_tokens,
if(maxIf(SpanAttributes['agentvista.total_cost_usd'], ParentSpanId = '') != '',
   toFloat64OrZero(maxIf(SpanAttributes['gen_ai.usage.cost'], ParentSpanId = '')),
   sumIf(${span_cost}, NOT ${is_aggregate_span})) AS total_cost_usd,
maxIf(SpanAttributes['agentvista.total_tokens'], ParentSpanId = '') != '' OR countIf(${has_usage}) > 0 AS has_usage,
maxIf(SpanAttributes['agentvista.success'], ParentSpanId = '') AS declared_success,
maxIf(SpanAttributes['agentvista.outcome'], ParentSpanId = '') AS declared_outcome
