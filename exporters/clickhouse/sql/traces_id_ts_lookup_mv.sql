-- Fills the trace-id lookup table on every insert into the spans table.
CREATE MATERIALIZED VIEW IF NOT EXISTS `$database`.`${table}_trace_id_ts_mv` $on_cluster
TO `$database`.`${table}_trace_id_ts`
AS SELECT
    TraceId,
    min(toDateTime(Timestamp)) AS Start,
    max(toDateTime(Timestamp)) AS End
FROM `$database`.`$table`
WHERE TraceId != ''
GROUP BY TraceId
