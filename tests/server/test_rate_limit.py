"""The token-bucket limiter (collector/server/rate_limit.py): burst, refill on an injected
clock, per-key buckets, Retry-After in whole seconds, the bounded key table, the config."""

from __future__ import annotations

import pytest

from spanhouse.collector.server.rate_limit import RateLimitConfig, TokenBucketLimiter
from tests.support.doubles import ManualClock


def test_burst_then_refill() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(2.0, 3, clock)
    assert [tuple(limiter.check("a")) for _ in range(4)] == [(True, 2, 0), (True, 1, 0), (True, 0, 0), (False, 0, 1)]
    clock.now += 0.5  # one token back at 2/s
    assert tuple(limiter.check("a")) == (True, 0, 0)
    assert limiter.check("a").allowed is False
    clock.now += 100  # never more than the burst
    assert [limiter.check("a").remaining for _ in range(3)] == [2, 1, 0]


def test_keys_have_their_own_buckets_and_retry_after_rounds_up() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(0.1, 1, clock)
    assert limiter.check("a").allowed and limiter.check("b").allowed
    decision = limiter.check("a")
    assert (decision.allowed, decision.retry_after_s) == (False, 10)
    clock.now += 9.5
    assert limiter.check("a").retry_after_s == 1
    allowed, remaining, retry_after_s = limiter.check("c")  # the tuple form the receivers use
    assert (allowed, remaining, retry_after_s) == (True, 0, 0)


def test_the_key_table_is_bounded() -> None:
    limiter = TokenBucketLimiter(1.0, 1, ManualClock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert limiter.check(key).allowed
    assert limiter.check("c").allowed is False  # recent keys are kept
    assert limiter.check("a").allowed is True  # the least recently used was forgotten


def test_config() -> None:
    assert RateLimitConfig().enabled is False
    assert TokenBucketLimiter.from_config(RateLimitConfig()) is None
    assert RateLimitConfig(requests_per_second=2.5).bucket_size == 3
    assert RateLimitConfig(requests_per_second=2.5, burst=10).bucket_size == 10
    assert RateLimitConfig(requests_per_second=-1, burst=-1).validate() == [
        ("requests_per_second", "must be 0 (off) or a positive number"),
        ("burst", "must be 0 (as many as requests_per_second) or greater")]
    with pytest.raises(ValueError):
        TokenBucketLimiter(0, 1)
