"""The `spanhouse` command as a user runs it: a real process, signals, and `spanhouse sql`
both through a running collector and on its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from spanhouse.collector import __version__
from tests.conftest import BASIC_CONFIG, free_ports
from tests.receivers.test_otlp_http_protocol import every_value_type_request

REPO = Path(__file__).resolve().parents[2]


def spanhouse(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spanhouse.collector", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def write_config(directory: Path) -> tuple[Path, dict[str, int]]:
    ports = free_ports(("grpc", "http", "health", "metrics"))
    text = BASIC_CONFIG.replace("{dir}", str(directory))
    for name, port in ports.items():
        text = text.replace(f"{{port:{name}}}", str(port))
    path = directory / "collector.yaml"
    path.write_text(text)
    return path, ports


def wait_healthy(port: int, process: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError("collector did not become healthy")


def post_spans(port: int, span_name: str) -> int:
    body = every_value_type_request(span_name).SerializeToString()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/traces", data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def test_version() -> None:
    result = spanhouse("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"spanhouse {__version__}"


def test_validate_repository_config_and_examples() -> None:
    for path in [REPO / "collector.yaml", *sorted((REPO / "config" / "examples").glob("*.yaml"))]:
        result = spanhouse("validate", "--config", str(path))
        assert result.returncode == 0, result.stderr
        assert "valid" in result.stdout


def test_validate_reports_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text(BASIC_CONFIG.replace("endpoint: chdb://{dir}/clickhouse",
                                         'endpoint: chdb://{dir}/clickhouse\n    ttl: "3 days"'))
    result = spanhouse("validate", "--config", str(path))
    assert result.returncode == 2
    assert f'{path}:15: exporters.clickhouse.ttl: expected a duration like 72h, got "3 days"' in result.stderr


def test_run_store_sigterm_then_sql(tmp_path: Path) -> None:
    config_path, ports = write_config(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "spanhouse.collector", "run", "--config", str(config_path)],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(ports["health"], process)
        assert post_spans(ports["http"], "before-stop") == 200
        # While the collector holds the embedded path, `spanhouse sql` goes through it. (The 200
        # came once the spans were durable in the sending queue; the insert follows shortly.)
        deadline = time.monotonic() + 30
        while True:
            result = spanhouse("sql", "SELECT SpanName, ServiceName FROM otel.otel_traces", "--config",
                               str(config_path), "--format", "json")
            assert result.returncode == 0, result.stderr
            if json.loads(result.stdout) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert json.loads(result.stdout) == [{"SpanName": "before-stop", "ServiceName": "raw-client"}]
        # The query is read-only.
        result = spanhouse("sql", "DROP TABLE otel.otel_traces", "--config", str(config_path))
        assert result.returncode == 1
        assert "read-only" in result.stderr.lower()
        # One statement per call, and what is wrong said plainly; the channel stays clean after.
        result = spanhouse("sql", "SELECT 1; DROP TABLE otel.otel_traces", "--config", str(config_path))
        assert result.returncode == 1
        assert result.stderr.startswith("spanhouse sql: only one statement per call"), result.stderr
        result = spanhouse("sql", "SELEC 1", "--config", str(config_path))
        assert result.returncode == 1
        assert result.stderr.startswith("spanhouse sql: syntax error: failed at position 7"), result.stderr
        result = spanhouse("sql", "SELECT 42 AS x", "--config", str(config_path), "--format", "csv")
        assert (result.returncode, result.stdout) == (0, "x\n42\n"), result.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics']}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        for name in ("otelcol_receiver_accepted_spans", "otelcol_exporter_sent_spans",
                     "otelcol_processor_batch_batch_send_size", "otelcol_process_memory_rss",
                     "otelcol_process_cpu_seconds"):
            assert name in metrics
        assert 'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 1' in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    logs = process.stderr.read() if process.stderr else ""
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line["msg"].startswith("spanhouse is ready") for line in lines)
    # Without a running collector `spanhouse sql` opens the embedded path itself.
    result = spanhouse("sql", "SELECT count() AS spans FROM otel.otel_traces", "--config", str(config_path),
                       "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "spans\n1\n"
    result = spanhouse("sql", "SELECT 1; INSERT INTO otel.otel_traces (SpanName) VALUES ('forged')", "--config",
                       str(config_path))
    assert result.returncode == 1
    assert result.stderr.startswith("spanhouse sql: only one statement per call"), result.stderr
    result = spanhouse("sql", "SELECT count() AS spans FROM otel.otel_traces", "--config", str(config_path))
    assert result.stdout.splitlines()[0].strip() == "spans"


def test_run_refuses_bad_config_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("receivers:\n  nosuch:\nservice:\n  pipelines: {}\n")
    result = spanhouse("run", "--config", str(path))
    assert result.returncode == 2
    assert 'receivers.nosuch: unknown receiver type "nosuch"' in result.stderr
