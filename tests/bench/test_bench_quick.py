"""A few seconds of the real benchmark: `python -m bench.run` starts `spanhouse run`, drives
it, waits for ClickHouse and prints its JSON line. Only that every acknowledged span arrived
and that the line is complete are asserted, never a speed."""

from __future__ import annotations

import orjson
import pytest

from bench import run

EXPECTED_FIELDS = {
    "protocol", "duration_s", "spans_acknowledged", "spans_stored", "all_stored", "stored_spans_per_s",
    "requests", "latency_ms", "count_429", "count_503", "other_errors", "collector", "storage", "config",
    "machine", "date", "command",
}


@pytest.mark.parametrize("protocol", ["otlp-http-proto", "dynamiq", "agentvista"])
def test_quick_benchmark_stores_every_acknowledged_span(protocol: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A collector that lost acknowledged spans fails here after --stored-timeout, not 3 minutes.
    code = run.main(["--protocol", protocol, "--duration", "2", "--rate", "1000",
                     "--spans-per-request", "50", "--concurrency", "2", "--pool", "2", "--stored-timeout", "30",
                     "--then-duration", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    result = orjson.loads(line)
    assert code == 0
    assert result.keys() >= EXPECTED_FIELDS
    assert result["spans_acknowledged"] > 0
    assert result["spans_acknowledged"] == result["spans_sent"]
    assert result["all_stored"] is True
    assert {"p50", "p95", "p99"} <= result["latency_ms"].keys()
    # The second phase (--then-duration) is reported on its own and stored too.
    assert result["then"]["spans_acknowledged"] > 0
    assert result["spans_stored"] == result["spans_acknowledged"] + result["then"]["spans_acknowledged"]
    collector = result["collector"]
    assert collector["exit_code"] == 0
    assert collector["peak_rss_mb"] > 0 and collector["cpu_s_total"] > 0 and collector["cold_start_s"] > 0
    storage = result["storage"]
    assert storage["bytes_on_disk_per_span"] > 0 and storage["compression_ratio"] > 1
    assert "chdb://./clickhouse" in result["config"] and "{port:" not in result["config"]
    assert result["machine"]["cores"] >= 1
