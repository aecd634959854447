"""The load generator's command line: `python -m bench.loadgen --protocol otlp-http-proto
--target http://127.0.0.1:4318 --duration 20` sends realistic agent traces to any endpoint
(spanhouse, another collector for comparison, or a vendor-shaped receiver) and prints one
JSON line: requests, spans acknowledged, latency percentiles, 429/503 and other errors.

Bodies are pre-encoded (bench.templates): `--pool` distinct bodies of `--spans-per-request`
spans each, deterministic by `--seed` and `--base-time`, re-sent with fresh ids per request."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from bench.driver import LoadGenerator, LoadOptions, LoadStats, drive, summarize
from bench.templates import PROTOCOLS, BodyTemplate, build_pool

__all__ = ["PROTOCOLS", "BodyTemplate", "LoadGenerator", "LoadOptions", "LoadStats", "build_pool", "drive",
           "main", "summarize"]

DEFAULT_TARGETS = {"otlp-grpc": "127.0.0.1:4317"}
DEFAULT_HTTP_TARGET = "http://127.0.0.1:4318"


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared with bench.run."""
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="otlp-http-proto")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending (default 10)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--rate", type=float, default=None,
                        help="spans/s to send, over all processes (default: flat out)")
    parser.add_argument("--spans-per-request", type=int, default=None,
                        help="spans per body (default 500; AgentVista 100, AITracer 1)")
    parser.add_argument("--pool", type=int, default=32, help="distinct pre-encoded bodies (default 32)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1,
                        help="sending processes, each with its share of the concurrency (default 1)")
    parser.add_argument("--base-time", type=int, default=0,
                        help="Unix ns of the earliest span (default: the start of the current hour)")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                        help="extra request header (gRPC: metadata), repeatable")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--first-seq", type=int, default=0,
                        help="seq of the first copy; ids derive from (seed, seq), so a second run into the "
                             "same store needs another --seed or a --first-seq past the first run's requests")


def options_from(args: argparse.Namespace, target: str) -> LoadOptions:
    headers = []
    for header in args.header:
        name, separator, value = header.partition(":")
        if not separator:
            raise SystemExit(f"--header {header!r}: expected NAME:VALUE")
        headers.append((name.strip(), value.strip()))
    return LoadOptions(
        protocol=args.protocol, target=target, duration_s=args.duration, concurrency=args.concurrency,
        rate=args.rate, spans_per_request=args.spans_per_request, pool_size=args.pool, seed=args.seed,
        processes=args.processes, base_time_ns=args.base_time, headers=tuple(headers), timeout_s=args.timeout,
        first_seq=args.first_seq)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--target", default=None,
                        help=f"endpoint (default {DEFAULT_HTTP_TARGET}; gRPC {DEFAULT_TARGETS['otlp-grpc']}); "
                             f"a path in the URL replaces the protocol's default path")
    args = parser.parse_args(argv)
    target = args.target or DEFAULT_TARGETS.get(args.protocol, DEFAULT_HTTP_TARGET)
    generator = LoadGenerator(options_from(args, target))
    try:
        generator.prepare()
        stats = generator.run()
    finally:
        generator.close()
    options = generator.options
    line: dict[str, Any] = {
        "protocol": options.protocol, "target": target, "duration_s": options.duration_s,
        "concurrency": options.concurrency, "rate": options.rate, "spans_per_request": options.body_spans,
        "processes": options.processes, "seed": options.seed, "base_time_ns": options.base_time_ns,
        **summarize(stats)}
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
