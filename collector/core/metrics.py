"""The collector's own metrics, rendered as Prometheus text (exposition format 0.0.4).

Deliberately tiny: counters, gauges and a histogram keyed by name and labels, updated on
the hot path with one dict lookup done at creation time, not per call.

Not prometheus_client (0.26 was tried for issue 13): it renames every counter to
`<name>_total` (OpenMetrics requires the suffix, and its 0.0.4 writer adds it too), which
would change the names dashboards and the tests know (otelcol_exporter_sent_spans...); and
its series take a lock per update, where ours is one attribute add on the hot path."""

from __future__ import annotations

import math
import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

DEFAULT_BUCKETS: Final = (10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
# What /metrics answers with, as Prometheus's own client libraries do.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Floats hold integers exactly up to here; beyond, the shortest repr is still exact.
_EXACT_INTEGER_LIMIT: Final = 2.0**53


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    # HELP text escapes backslash and line feed only (the exposition format's rule).
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value, exact: `{:g}` would print 1234567 as 1.23457e+06."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
        return str(int(value))
    return repr(float(value))


@dataclass(slots=True)
class Counter:
    value: float = 0.0

    def add(self, amount: float = 1.0) -> None:
        self.value += amount


@dataclass(slots=True)
class Gauge:
    value: float = 0.0
    # When set, the gauge is read at render time (queue sizes, RSS).
    reader: Callable[[], float] | None = None

    def set(self, value: float) -> None:
        self.value = value

    def read(self) -> float:
        return self.reader() if self.reader is not None else self.value


@dataclass(slots=True)
class Histogram:
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
                break


@dataclass(slots=True)
class _Family:
    kind: str
    help: str
    series: dict[str, Counter | Gauge | Histogram] = field(default_factory=dict)


class Metrics:
    """A registry of metric series. Get a series once (at start) and update it directly."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def _series(self, kind: str, name: str, help_text: str, labels: dict[str, str],
                make: Callable[[], Counter | Gauge | Histogram]) -> Counter | Gauge | Histogram:
        with self._lock:
            family = self._families.setdefault(name, _Family(kind, help_text))
            if family.kind != kind:
                raise ValueError(f"metric {name} is a {family.kind}, not a {kind}")
            key = _label_text(labels)
            if key not in family.series:
                family.series[key] = make()
            return family.series[key]

    def counter(self, name: str, help_text: str, **labels: str) -> Counter:
        series = self._series("counter", name, help_text, labels, Counter)
        assert isinstance(series, Counter)
        return series

    def gauge(self, name: str, help_text: str, reader: Callable[[], float] | None = None,
              **labels: str) -> Gauge:
        series = self._series("gauge", name, help_text, labels, lambda: Gauge(reader=reader))
        assert isinstance(series, Gauge)
        if reader is not None:
            series.reader = reader
        return series

    def histogram(self, name: str, help_text: str, buckets: Iterable[float] = DEFAULT_BUCKETS,
                  **labels: str) -> Histogram:
        bounds = tuple(buckets)
        series = self._series("histogram", name, help_text, labels, lambda: Histogram(bounds))
        assert isinstance(series, Histogram)
        return series

    def value(self, name: str, **labels: str) -> float:
        """Current value of a counter or gauge series (0 when absent); for tests and health."""
        family = self._families.get(name)
        series = family.series.get(_label_text(labels)) if family else None
        if isinstance(series, Counter):
            return series.value
        if isinstance(series, Gauge):
            return series.read()
        return 0.0

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            families = sorted(self._families.items())
        for name, family in families:
            lines.append(f"# HELP {name} {_escape_help(family.help)}")
            lines.append(f"# TYPE {name} {family.kind}")
            for key, series in sorted(family.series.items()):
                if isinstance(series, Histogram):
                    lines.extend(_render_histogram(name, key, series))
                else:
                    value = series.read() if isinstance(series, Gauge) else series.value
                    lines.append(f"{name}{key} {_number(value)}")
        return "\n".join(lines) + "\n"


def _render_histogram(name: str, key: str, series: Histogram) -> list[str]:
    inner = key[1:-1]
    prefix = inner + "," if inner else ""
    lines, cumulative = [], 0
    for bound, count in zip(series.buckets, series.counts, strict=True):
        cumulative += count
        lines.append(f'{name}_bucket{{{prefix}le="{_number(bound)}"}} {cumulative}')
    lines.append(f'{name}_bucket{{{prefix}le="+Inf"}} {series.count}')
    lines.append(f"{name}_sum{key} {_number(series.total)}")
    lines.append(f"{name}_count{key} {series.count}")
    return lines


def exporter_sent_spans(metrics: Metrics, exporter_id: str) -> Counter:
    """The one registration of otelcol_exporter_sent_spans, shared by every exporter."""
    return metrics.counter("otelcol_exporter_sent_spans", "Spans successfully sent to the destination",
                           exporter=exporter_id)


_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE")


def process_rss_bytes() -> float:
    """Resident set size now (not the peak), from /proc where it exists."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return float(int(statm.read().split()[1]) * _PAGE_SIZE)
    except OSError:
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def register_process_metrics(metrics: Metrics) -> None:
    metrics.gauge("otelcol_process_memory_rss", "Resident memory of the collector in bytes",
                  reader=process_rss_bytes)
    metrics.gauge("otelcol_process_cpu_seconds", "CPU seconds used by the collector",
                  reader=process_cpu_seconds)
    started = time.time()
    metrics.gauge("otelcol_process_uptime", "Seconds since the collector started",
                  reader=lambda: time.time() - started)
