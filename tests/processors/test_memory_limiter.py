"""The memory limiter refuses with a retryable 429-class error above its soft limit and
accepts again once memory falls."""

from __future__ import annotations

import pytest

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.core.errors import ResourceExhaustedError, classify
from spanhouse.collector.processors.memory_limiter import MIB, MemoryLimiter, MemoryLimiterConfig
from tests.conftest import RecordingConsumer, StubHost
from tests.processors.test_batch import traces_with


async def test_refuses_above_soft_limit_and_recovers() -> None:
    rss = [900 * MIB]
    sink = RecordingConsumer()
    limiter = MemoryLimiter(CreateSettings("memory_limiter"), MemoryLimiterConfig(limit_mib=1000), sink,
                            read_rss=lambda: rss[0])
    await limiter.start(StubHost())
    try:
        assert limiter.refusing  # soft limit = 1000 - 20% = 800 MiB
        with pytest.raises(ResourceExhaustedError) as raised:
            await limiter.consume(traces_with([2]))
        answer = classify(raised.value)
        assert (answer.http_status, answer.retry_after_s) == (429, 1)
        rss[0] = 700 * MIB
        limiter.check()
        await limiter.consume(traces_with([2]))
        assert sink.spans == 2
    finally:
        await limiter.shutdown()
        await limiter.shutdown()


def test_config_validation() -> None:
    assert MemoryLimiterConfig().validate() == [("limit_mib", "must be greater than 0")]
    assert MemoryLimiterConfig(limit_mib=100, spike_limit_mib=100).validate() == [
        ("spike_limit_mib", "must be at least 0 and less than limit_mib")]
    assert MemoryLimiterConfig(limit_mib=100, spike_limit_mib=30).soft_limit_bytes == 70 * MIB
