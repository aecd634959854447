"""Fan-out of one stream of traces to several consumers (pipelines, or a pipeline's exporters),
copying for the consumers that declare they modify what they receive (otelcol's MutatesData)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from spanhouse.collector.core.component import Consumer, Traces, mutates_data


def copy_traces(traces: Traces) -> Traces:
    """A deep copy that a mutating consumer may change without the others seeing it."""
    copy = Traces()
    copy.CopyFrom(traces)
    return copy


class FanOut:
    """Hands the same traces to every consumer and succeeds only if all of them took it.

    As otelcol's fanoutconsumer: consumers that do not modify data share the original; each
    consumer that does (`mutates_data`) gets its own copy, except that when every consumer
    mutates, the last one gets the original (nobody else reads it). On failure the first
    error is raised; the sender retries, and the exporters' insert deduplication keeps the
    stores that already succeeded free of duplicates."""

    def __init__(self, consumers: Sequence[Consumer]) -> None:
        self._mutating = tuple(consumer for consumer in consumers if mutates_data(consumer))
        self._readonly = tuple(consumer for consumer in consumers if not mutates_data(consumer))

    @property
    def mutates_data(self) -> bool:
        # Only when the original goes to a mutating consumer; otherwise copies were made here.
        return bool(self._mutating) and not self._readonly

    async def consume(self, traces: Traces) -> None:
        handed: list[tuple[Consumer, Traces]] = []
        for index, consumer in enumerate(self._mutating):
            last = index == len(self._mutating) - 1
            # Never share one message between a mutating and a reading consumer: they run
            # concurrently and the reader would see the change (or a half-made one).
            handed.append((consumer, traces if last and not self._readonly else copy_traces(traces)))
        handed.extend((consumer, traces) for consumer in self._readonly)
        results = await asyncio.gather(*(consumer.consume(data) for consumer, data in handed),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


class Declared:
    """A consumer seen with the capability of everything behind it: a pipeline's first
    processor stands for the whole pipeline (otelcol's capabilitiesNode), so that the fan-out
    in front of it copies when any of its processors or exporters modifies the data."""

    def __init__(self, consumer: Consumer, mutates: bool) -> None:
        self.consumer = consumer
        self.mutates_data = mutates

    async def consume(self, traces: Traces) -> None:
        await self.consumer.consume(traces)


def fan_out(consumers: Sequence[Consumer]) -> Consumer:
    # One consumer gets the original whether it mutates or not: nobody else reads it.
    return consumers[0] if len(consumers) == 1 else FanOut(consumers)
