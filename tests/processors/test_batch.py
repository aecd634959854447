"""The batch processor: size and time triggers, splitting, and acknowledgement only after
the next stage took the batch."""

from __future__ import annotations

import asyncio

import pytest

from spanhouse.collector.core.component import CreateSettings, Traces, span_count
from spanhouse.collector.core.errors import RetryableError
from spanhouse.collector.processors.batch import BatchConfig, BatchProcessor, split_traces
from tests.conftest import FailingConsumer, RecordingConsumer, StubHost


def traces_with(spans_per_scope: list[int], service: str = "svc") -> Traces:
    traces = Traces()
    resource = traces.resource_spans.add()
    resource.resource.attributes.add(key="service.name").value.string_value = service
    for scope_index, count in enumerate(spans_per_scope):
        scope = resource.scope_spans.add()
        scope.scope.name = f"scope{scope_index}"
        for index in range(count):
            scope.spans.add(name=f"s{scope_index}.{index}", trace_id=b"\x01" * 16, span_id=bytes([1] * 7 + [index]))
    return traces


async def started(config: BatchConfig, sink: object) -> BatchProcessor:
    processor = BatchProcessor(CreateSettings("batch"), config, sink)  # type: ignore[arg-type]
    await processor.start(StubHost())
    return processor


async def test_size_trigger_sends_at_once_and_acknowledges_after_the_send() -> None:
    sink = RecordingConsumer()
    processor = await started(BatchConfig(send_batch_size=3, timeout=60), sink)
    first = asyncio.ensure_future(processor.consume(traces_with([2])))
    await asyncio.sleep(0.01)
    assert not first.done() and sink.received == []
    await processor.consume(traces_with([1]))
    await first
    assert [span_count(batch) for batch in sink.received] == [3]
    await processor.shutdown()


async def test_timeout_trigger() -> None:
    sink = RecordingConsumer()
    processor = await started(BatchConfig(send_batch_size=1000, timeout=0.05), sink)
    await asyncio.wait_for(asyncio.gather(processor.consume(traces_with([1])), processor.consume(traces_with([2]))),
                           timeout=5)
    assert [span_count(batch) for batch in sink.received] == [3]


async def test_errors_reach_every_sender_of_the_batch() -> None:
    processor = await started(BatchConfig(send_batch_size=2, timeout=60),
                              FailingConsumer(RetryableError("store down")))
    results = await asyncio.gather(processor.consume(traces_with([1])), processor.consume(traces_with([1])),
                                   return_exceptions=True)
    assert all(isinstance(result, RetryableError) for result in results)


async def test_shutdown_sends_what_is_pending() -> None:
    sink = RecordingConsumer()
    processor = await started(BatchConfig(send_batch_size=1000, timeout=60), sink)
    pending = asyncio.ensure_future(processor.consume(traces_with([4])))
    await asyncio.sleep(0)
    await processor.shutdown()
    await pending
    assert sink.spans == 4
    await processor.shutdown()


async def test_max_size_splits_batches() -> None:
    sink = RecordingConsumer()
    processor = await started(BatchConfig(send_batch_size=5, timeout=60, send_batch_max_size=5), sink)
    await processor.consume(traces_with([7, 6]))
    assert [span_count(batch) for batch in sink.received] == [5, 5, 3]


@pytest.mark.parametrize("max_spans", [1, 2, 3, 5, 100])
def test_split_keeps_every_span_once_with_its_resource_and_scope(max_spans: int) -> None:
    original = traces_with([3, 0, 4])
    pieces = split_traces(original, max_spans)
    assert all(span_count(piece) <= max_spans for piece in pieces)
    seen = [(piece_resource.resource.attributes[0].value.string_value, scope.scope.name, span.name)
            for piece in pieces for piece_resource in piece.resource_spans
            for scope in piece_resource.scope_spans for span in scope.spans]
    expected = [("svc", scope.scope.name, span.name) for scope in original.resource_spans[0].scope_spans
                for span in scope.spans]
    assert seen == expected


def test_config_validation() -> None:
    assert BatchConfig().validate() == []
    assert BatchConfig(send_batch_size=10, send_batch_max_size=5).validate() == [
        ("send_batch_max_size", "must be 0 or at least send_batch_size")]
