"""Attributing py-spy samples to pipeline stages (bench.profile)."""

from __future__ import annotations

from pathlib import Path

from bench.profile import stage_of, summarize

ROOT = "<module> (spanhouse:8);main (collector/cli.py:101);run (asyncio/runners.py:118)"


def test_the_innermost_stage_frame_wins_over_frameworks() -> None:
    handler = f"{ROOT};_run_once (asyncio/base_events.py:1922);handle (collector/server/otlp_http.py:39)"
    assert stage_of(f"{handler};decode (collector/server/otlp_http.py:64)".split(";")) == "decode"
    assert stage_of(f"{handler};drop_invalid_spans (proto/validate.py:49)".split(";")) == "validate"
    worker = ("_bootstrap (threading.py:1002);run (concurrent/futures/thread.py:58);"
              "_write (exporters/clickhouse/exporter.py:280)")
    assert stage_of(f"{worker};to_columns (exporters/clickhouse/columns.py:140)".split(";")) == "column conversion"
    assert stage_of(f"{worker};attributes_to_map (exporters/clickhouse/values.py:125)".split(";")) \
        == "column conversion"
    assert stage_of(f"{worker};insert (clickhouse_connect/driver/client.py:700)".split(";")).startswith("insert")
    batch = f"{ROOT};_send (collector/processors/batch.py:129)"
    assert stage_of(f"{batch};consume (exporters/queue/sending_queue.py:139)".split(";")) == "persistent queue"
    assert stage_of(f"{batch};extend (collector/processors/batch.py:123)".split(";")) == "batch"
    assert stage_of(f"{ROOT};_run_once (asyncio/base_events.py:1922);data_received (aiohttp/web_protocol.py:400)"
                    .split(";")).startswith("HTTP server")
    assert stage_of(f"{ROOT};_run_once (asyncio/base_events.py:1922)".split(";")) == "event loop (asyncio)"
    assert stage_of(["<module> (elsewhere.py:1)"]) == "other"


def test_summary_is_percent_of_samples(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(f"{ROOT};decode (collector/server/otlp_http.py:64) 3\n"
                   f"{ROOT};to_columns (exporters/clickhouse/columns.py:140) 1\n")
    by_stage, hottest = summarize(raw)
    assert by_stage == {"decode": 75.0, "column conversion": 25.0}
    assert hottest[0] == ("decode (collector/server/otlp_http.py:64)", 75.0)
