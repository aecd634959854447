-- Earliest and latest span start per trace id, so that reading a trace by id first finds
-- its time range here and then reads only the matching partitions of the spans table.
CREATE TABLE IF NOT EXISTS `$database`.`${table}_trace_id_ts` $on_cluster (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = $engine
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
$ttl
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
