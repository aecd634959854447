-- Signals about a whole trace that are not spans: AITracer feedback (thumbs up/down, score,
-- comment), AgentVista outcomes, and alike. One row per (tenant, trace, source); a later row
-- of the same key replaces an earlier one, so read with FINAL (or argMax(..., UpdatedAt)).
-- A signal may be stored before its trace's spans arrive: nothing here refers to the spans table.
-- Not partitioned by time: a replacement must meet the row it replaces in one partition.
CREATE TABLE IF NOT EXISTS `$database`.`$feedback_table` $on_cluster (
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    Source LowCardinality(String) CODEC(ZSTD(1)),
    Rating Int8 CODEC(ZSTD(1)),
    Score Nullable(Float64) CODEC(ZSTD(1)),
    Comment String CODEC(ZSTD(1)),
    Success Nullable(Bool) CODEC(ZSTD(1)),
    Outcome String CODEC(ZSTD(1)),
    Payload String CODEC(ZSTD(1)),
    UpdatedAt DateTime64(9) CODEC(Delta, ZSTD(1))
) ENGINE = $engine
ORDER BY (TenantId, TraceId, Source)
$ttl
SETTINGS index_granularity = 8192
