"""Summarises a py-spy profile of the collector (`py-spy record --format raw`: one collapsed
stack and its sample count per line) by pipeline stage: `python -m bench.profile FILE`.

A sample belongs to the innermost frame that names a stage, so time spent in a library
called by a stage (protobuf in decode, clickhouse-connect in insert) counts for that stage;
frames of the frameworks around them (aiohttp, grpc, asyncio) only take what is left."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

# (stage, path fragment, function name or "" for any), most specific first.
_STAGE_RULES: Final = (
    ("decode", "proto/otlp_json.py", ""),
    ("decode", "server/otlp_http.py", "decode"),
    ("decode", "proto/compression.py", ""),
    ("decode", "google/protobuf/", ""),
    ("validate", "proto/validate.py", ""),
    ("memory limiter", "processors/memory_limiter.py", ""),
    ("batch", "processors/batch.py", ""),
    # Serialise, append and fsync on the write side; read back and commit on the insert side.
    ("persistent queue", "exporters/queue/", ""),
    ("column conversion", "exporters/clickhouse/columns.py", ""),
    ("column conversion", "exporters/clickhouse/values.py", ""),
    ("insert (clickhouse-connect + chdb)", "clickhouse_connect/", ""),
    ("insert (clickhouse-connect + chdb)", "chdb/", ""),
    ("insert (clickhouse-connect + chdb)", "exporters/clickhouse/exporter.py", "_write"),
    ("span counting", "collector/core/component.py", "span_count"),
)
# Frameworks: only when no stage frame is on the stack.
_FRAMEWORK_RULES: Final = (
    ("HTTP server (aiohttp: read, parse, respond)", "aiohttp/", ""),
    ("HTTP server (aiohttp: read, parse, respond)", "collector/receivers/", ""),
    ("gRPC server (grpc.aio)", "grpc/", ""),
    ("self-telemetry", "collector/telemetry/", ""),
    ("thread pool hand-off", "concurrent/futures/", ""),
    ("thread pool hand-off", "threading.py", ""),
    ("event loop (asyncio)", "asyncio/", ""),
)


def _matches(frame: str, fragment: str, function: str) -> bool:
    if fragment not in frame:
        return False
    return not function or frame.startswith(function + " ")


def stage_of(frames: Sequence[str]) -> str:
    """`frames` outermost first, as py-spy writes them."""
    for rules in (_STAGE_RULES, _FRAMEWORK_RULES):
        for frame in reversed(frames):
            for stage, fragment, function in rules:
                if _matches(frame, fragment, function):
                    return stage
    return "other"


def read_samples(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def summarize(path: Path) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Percent of samples per stage, and the 15 hottest innermost frames (self time)."""
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in read_samples(path):
        stages[stage_of(frames)] += count
        leaves[frames[-1]] += count
    total = sum(stages.values()) or 1
    by_stage = {stage: round(100 * count / total, 1) for stage, count in stages.most_common()}
    hottest = [(frame, round(100 * count / total, 1)) for frame, count in leaves.most_common(15)]
    return by_stage, hottest


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("usage: python -m bench.profile PROFILE.txt   (from py-spy record --format raw)", file=sys.stderr)
        return 2
    by_stage, hottest = summarize(Path(arguments[0]))
    print("| stage | % of sampled collector CPU |\n|---|---:|")
    for stage, percent in by_stage.items():
        print(f"| {stage} | {percent} |")
    print("\n| hottest frame (self) | % |\n|---|---:|")
    for frame, percent in hottest:
        print(f"| `{frame}` | {percent} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
