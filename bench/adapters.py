"""Main-thread cost of the vendor adapters' translation, per span: `python -m bench.adapters
[--bodies 8] [--repeat 5]`. Prints one line per vendor in microseconds per stored span.

What is timed is what the adapter receiver does on its event loop for one request, without
HTTP: JSON decoding, the depth check and the route's handler building the OTLP request
(collector/receivers/adapter/receiver.py `_serve`)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from bench import vendor_bodies
from bench.traces import build_body
from spanhouse.adapters import agentvista, dynamiq
from spanhouse.collector.core.adapter_api import AdapterRequest, Route
from spanhouse.collector.receivers.adapter.receiver import _decode_json
from spanhouse.collector.server.limits import DEFAULT_MAX_JSON_DEPTH, check_json_depth

BASE_TIME_NS: Final = 1_764_000_000_000_000_000
# The load generator's default body sizes (bench.templates.PROTOCOLS).
SPANS_PER_BODY: Final = {"dynamiq": 500, "agentvista": vendor_bodies.AGENTVISTA_MAX_SPANS}


class EmptyState:
    """A state store that has seen nothing: every span of every body is new."""

    def get(self, namespace: str, key: str) -> bytes | None:
        return None

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        return {}


def _route(vendor: str) -> Route:
    if vendor == "dynamiq":
        adapter: Any = dynamiq.DynamiqAdapter(dynamiq.DynamiqConfig())
    else:
        adapter = agentvista.AgentVistaAdapter(agentvista.AgentVistaConfig())
    route: Route = adapter.routes[0]
    return route


def translate(route: Route, raw: bytes) -> Any:
    """The receiver's work for one request body, up to the traces handed to the pipeline."""
    body = _decode_json(raw, "application/json")
    check_json_depth(body, DEFAULT_MAX_JSON_DEPTH)
    request = AdapterRequest(method="POST", path=route.path, path_params={}, query={}, headers={},
                             body=body, tenant="default", received_at_ns=BASE_TIME_NS,
                             max_body_depth=DEFAULT_MAX_JSON_DEPTH)
    result = route.handle(request, EmptyState())
    if result.response.status != 200 or result.traces is None:
        raise RuntimeError(f"{route.path}: the benchmark body was refused: {result.response.body}")
    return result.traces


def bodies(vendor: str, count: int) -> tuple[list[bytes], int]:
    """`count` distinct bodies and the spans they become once stored."""
    encode: Callable[[Any, int], bytes] = getattr(vendor_bodies, vendor)
    models = [build_body(1, index, SPANS_PER_BODY[vendor], BASE_TIME_NS) for index in range(count)]
    return [encode(model, index) for index, model in enumerate(models)], sum(model.span_count for model in models)


def measure(vendor: str, body_count: int, repeat: int) -> float:
    """Best of `repeat` passes over the bodies, in microseconds per stored span."""
    route = _route(vendor)
    raws, spans = bodies(vendor, body_count)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for raw in raws:
            translate(route, raw)
        best = min(best, time.perf_counter() - started)
    return best / spans * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=8, help="distinct bodies per vendor (default 8)")
    parser.add_argument("--repeat", type=int, default=5, help="passes; the best is kept (default 5)")
    args = parser.parse_args()
    for vendor in SPANS_PER_BODY:
        per_span_us = measure(vendor, args.bodies, args.repeat)
        print(f"{vendor:<12} {per_span_us:7.2f} us/span ({SPANS_PER_BODY[vendor]} spans per body)")


if __name__ == "__main__":
    main()
