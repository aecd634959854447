"""The per-receiver counters every receiver keeps, under the OpenTelemetry Collector's names."""

from __future__ import annotations

from dataclasses import dataclass

from spanhouse.collector.core.metrics import Counter, Metrics


@dataclass(frozen=True, slots=True)
class ReceiverCounters:
    accepted: Counter
    refused: Counter

    @classmethod
    def create(cls, metrics: Metrics | None, receiver: str, transport: str) -> ReceiverCounters:
        if metrics is None:
            return cls(Counter(), Counter())
        return cls(
            metrics.counter("otelcol_receiver_accepted_spans",
                            "Spans successfully pushed into the pipeline", receiver=receiver, transport=transport),
            metrics.counter("otelcol_receiver_refused_spans",
                            "Spans that could not be pushed into the pipeline", receiver=receiver,
                            transport=transport),
        )
