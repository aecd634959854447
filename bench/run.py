"""The benchmark runner: `python -m bench.run --protocol otlp-http-proto --duration 20`.

Renders bench/configs/bench.yaml (free ports, embedded ClickHouse in a temporary directory),
starts `spanhouse run` on it and times the cold start to the first health check 200, drives
the load (bench.driver), waits until ClickHouse holds every acknowledged span, measures
storage, CPU and memory, stops the collector with SIGTERM, and prints ONE JSON line.

End-to-end spans/s = spans stored / (time from the first request to the moment a
`spanhouse sql` count first showed every acknowledged span, by ClickHouse's own clock). Each
such query costs about half a second of CLI start-up, so the figure is a slight underestimate
(`store_confirmed_after_last_ack_s` says by how much at most)."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from bench import profile
from bench.collector_process import CollectorProcess, cpu_seconds, peak_rss_mb, thread_cpu_seconds
from bench.driver import LoadGenerator, summarize
from bench.loadgen import add_load_arguments, options_from

DEFAULT_CONFIG: Final = Path(__file__).parent / "configs" / "bench.yaml"
DATABASE: Final = "otel"
TABLE: Final = "otel_traces"
# The placeholder port each protocol is sent to; vendor receivers need their own in the template.
PORT_FOR_PROTOCOL: Final = {"otlp-http-proto": "http", "otlp-http-json": "http", "otlp-grpc": "grpc",
                            "dynamiq": "dynamiq", "agentvista": "agentvista", "aitracer": "aitracer"}
STORED_TIMEOUT_S: Final = 180.0
PORT_PLACEHOLDER: Final = re.compile(r"\{port:([a-z_]+)\}")


def free_port(taken: Collection[int] = ()) -> int:
    """A port nothing listens on now, other than `taken`: the kernel may hand out a port it just
    gave again once the probe is closed (seen in CI: two receivers of one config on one port)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            return port


def render_config(template: str) -> tuple[str, dict[str, int]]:
    """`{port:name}` placeholders become free ports (one per name)."""
    ports: dict[str, int] = {}

    def port(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ports:
            ports[name] = free_port(ports.values())
        return str(ports[name])

    return PORT_PLACEHOLDER.sub(port, template), ports


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform()}


def wait_until_stored(collector: CollectorProcess, expected: int,
                      timeout_s: float = STORED_TIMEOUT_S) -> tuple[int, float | None, int]:
    """Polls the span count until it reaches `expected`: (count, ClickHouse's Unix time of the
    query that first saw them all or None on timeout, number of queries)."""
    query = f"SELECT count() AS spans, toUnixTimestamp64Milli(now64(3)) AS now_ms FROM {DATABASE}.{TABLE}"
    deadline = time.monotonic() + timeout_s
    polls = 0
    while True:
        row = collector.sql(query)[0]
        polls += 1
        stored = int(row["spans"])
        if stored >= expected:
            return stored, int(row["now_ms"]) / 1000, polls
        if time.monotonic() > deadline:
            return stored, None, polls
        time.sleep(0.05)


def storage_report(collector: CollectorProcess, spans: int) -> dict[str, Any]:
    """Bytes on disk and compression of the traces table (and its trace-id lookup table)."""
    tables = collector.sql(
        f"SELECT table, sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS on_disk, "
        f"sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed, "
        f"sum(secondary_indices_compressed_bytes) AS skip_indexes, sum(marks_bytes) AS marks "
        f"FROM system.parts WHERE database = '{DATABASE}' AND active GROUP BY table ORDER BY table")
    columns = collector.sql(
        f"SELECT name, compression_codec AS codec, data_compressed_bytes AS compressed, "
        f"data_uncompressed_bytes AS uncompressed FROM system.columns "
        f"WHERE database = '{DATABASE}' AND table = '{TABLE}' ORDER BY data_compressed_bytes DESC")
    # on_disk = compressed column data + skipping indexes (bloom filters, text index) + marks.
    indexes = collector.sql(
        f"SELECT name, type_full AS type, data_compressed_bytes AS compressed FROM system.data_skipping_indices "
        f"WHERE database = '{DATABASE}' AND table = '{TABLE}' ORDER BY data_compressed_bytes DESC")
    by_table = {row["table"]: {key: int(row[key]) for key in ("rows", "parts", "on_disk", "compressed",
                                                                "uncompressed", "skip_indexes", "marks")}
                for row in tables}
    main = by_table.get(TABLE, {"rows": 0, "on_disk": 0, "compressed": 0, "uncompressed": 0})
    return {
        "bytes_on_disk_per_span": round(main["on_disk"] / spans, 1) if spans else None,
        "compression_ratio": round(main["uncompressed"] / main["compressed"], 2) if main["compressed"] else None,
        "all_tables_bytes_on_disk_per_span": round(sum(t["on_disk"] for t in by_table.values()) / spans, 1)
        if spans else None,
        "tables": by_table,
        "skip_indexes": {row["name"]: [int(row["compressed"]), row["type"]] for row in indexes},
        # name: [compressed bytes, uncompressed bytes, codec in effect]
        "columns": {row["name"]: [int(row["compressed"]), int(row["uncompressed"]), row["codec"]]
                    for row in columns},
    }


def find_py_spy() -> str | None:
    """py-spy is not a project dependency: `pip install py-spy` to profile."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _start_profiler(py_spy: str, pid: int, seconds: float, delay_s: float,
                    output: Path) -> tuple[threading.Timer, list[Any]]:
    """Starts py-spy on `pid` after `delay_s` of load, so that it samples the steady state."""
    started: list[subprocess.Popen[bytes]] = []

    def launch() -> None:
        started.append(subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
             "--format", "raw", "--output", str(output), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    timer = threading.Timer(delay_s, launch)
    timer.start()
    return timer, started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config template (bench.yaml)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data, log)")
    parser.add_argument("--stored-timeout", type=float, default=STORED_TIMEOUT_S,
                        help=f"seconds to wait for ClickHouse to hold every acknowledged span "
                             f"(default {STORED_TIMEOUT_S:.0f})")
    parser.add_argument("--then-duration", type=float, default=0.0, metavar="SECONDS",
                        help="after the load, keep sending for this long at --then-rate, to see the rate the "
                             "collector takes once an overload stops (reported under \"then\"; one process)")
    parser.add_argument("--then-rate", type=float, default=None, help="spans/s of that second phase (default: "
                                                                        "flat out)")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="run py-spy on the collector for this long during the load")
    parser.add_argument("--profile-output", type=Path, default=None,
                        help="where py-spy writes (default bench/out/profile-<protocol>.txt)")
    args = parser.parse_args(argv)
    py_spy = find_py_spy() if args.profile else None
    if args.profile and py_spy is None:
        parser.error("--profile needs py-spy (not a project dependency): pip install py-spy")
    command = "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else list(argv))

    directory = Path(tempfile.mkdtemp(prefix="spanhouse-bench-"))
    config_text, ports = render_config(args.config.read_text())
    port_name = PORT_FOR_PROTOCOL[args.protocol]
    if port_name not in ports:
        parser.error(f"{args.config} has no {{port:{port_name}}}: add a receiver for {args.protocol} to it")
    config_path = directory / "collector.yaml"
    config_path.write_text(config_text)
    scheme = "" if args.protocol == "otlp-grpc" else "http://"
    generator = LoadGenerator(options_from(args, f"{scheme}127.0.0.1:{ports[port_name]}"))
    collector = CollectorProcess(config_path, directory / "collector.log")
    profiler: tuple[threading.Timer, list[Any]] | None = None
    profile_path = args.profile_output or Path(__file__).parent / "out" / f"profile-{args.protocol}.txt"
    try:
        generator.prepare()  # bodies are built before the collector starts: no CPU contention
        cold_start_s = collector.start(f"http://127.0.0.1:{ports['health']}/")
        pid = collector.pid
        cpu_before, threads_before = cpu_seconds(pid), thread_cpu_seconds(pid)
        if py_spy is not None:
            profile_path.parent.mkdir(parents=True, exist_ok=True)
            delay_s = max(0.0, (args.duration - args.profile) / 2)  # the middle of the load
            profiler = _start_profiler(py_spy, pid, args.profile, delay_s, profile_path)
        stats = generator.run()
        then = generator.run_again(args.then_duration, args.then_rate, stats) if args.then_duration else None
        cpu_load = cpu_seconds(pid) - cpu_before
        threads_after = thread_cpu_seconds(pid)
        load = summarize(stats)
        acknowledged = stats.spans_acknowledged + (then.spans_acknowledged if then else 0)
        stored, confirmed_at, polls = wait_until_stored(collector, acknowledged, args.stored_timeout)
        storage = storage_report(collector, stored)
        peak_rss, cpu_total = peak_rss_mb(pid), cpu_seconds(pid)
        if profiler is not None:
            profiler[0].join()
            for process in profiler[1]:
                process.wait(timeout=args.profile + 30)
        exit_code = collector.stop()
    finally:
        if profiler is not None:  # a failed run must not leave py-spy (our child) behind
            profiler[0].cancel()
            for process in profiler[1]:
                if process.poll() is None:
                    process.terminate()
                    process.wait()
        collector.stop()  # a no-op after the stop above; ends the collector of a failed run
        generator.close()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)

    window_s = (confirmed_at - stats.first_send_s) if confirmed_at is not None else None
    thread_cpu = {name: round(used - threads_before.get(name, 0.0), 2) for name, used in threads_after.items()}
    line: dict[str, Any] = {
        "protocol": args.protocol,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "spans_per_request": generator.options.body_spans,
        "rate": args.rate,
        "processes": args.processes,
        "spans_acknowledged": stats.spans_acknowledged,
        "spans_stored": stored,
        "all_stored": confirmed_at is not None and stored >= acknowledged,
        "stored_spans_per_s": round(stored / window_s) if window_s else None,
        "store_confirmed_after_last_ack_s": round(confirmed_at - (then or stats).last_ack_s, 3)
        if confirmed_at is not None and acknowledged else None,
        "count_polls": polls,
        **load,
        # The second phase: stored_spans_per_s and spans_stored above then cover both phases.
        "then": {"duration_s": args.then_duration, "rate": args.then_rate, **summarize(then)} if then else None,
        "collector": {
            "peak_rss_mb": round(sum(peak_rss.values()), 1),
            "peak_rss_mb_by_process": peak_rss,
            "cpu_s_total": round(cpu_total, 2),
            "cpu_s_during_load": round(cpu_load, 2),
            "cpu_s_during_load_by_thread": dict(sorted(
                ((name, used) for name, used in thread_cpu.items() if used >= 0.05), key=lambda item: -item[1])),
            "cold_start_s": round(cold_start_s, 3),
            "exit_code": exit_code,
        },
        "storage": storage,
        "machine": machine_info(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "seed": generator.options.seed,
        "base_time_ns": generator.options.base_time_ns,
        "config": config_text,
    }
    if profiler is not None and profile_path.exists():
        by_stage, _ = profile.summarize(profile_path)
        line["profile"] = {"file": str(profile_path), "percent_by_stage": by_stage}
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0 if line["all_stored"] and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
