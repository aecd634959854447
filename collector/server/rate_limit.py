"""A token-bucket rate limiter per key (a workspace key, a tenant), shared by every receiver
that limits requests; the clock is injected so that tests control time."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

# Buckets kept in memory at most; the least recently used is forgotten first (it comes back
# full, which errs on the side of letting a sender through rather than growing without bound).
DEFAULT_MAX_KEYS: Final = 100_000


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """`rate_limit:` of a receiver: a bucket of `burst` requests per key, refilled at
    `requests_per_second`. 0 requests per second turns limiting off (the default)."""

    requests_per_second: float = field(default=0.0, metadata={
        "description": "Sustained requests per second allowed per key (the bearer token); 0 turns "
                       "rate limiting off."})
    burst: int = field(default=0, metadata={
        "description": "Requests a key may send at once before being limited; 0 means "
                       "max(1, requests_per_second)."})

    @property
    def enabled(self) -> bool:
        return self.requests_per_second > 0

    @property
    def bucket_size(self) -> int:
        return self.burst or max(1, math.ceil(self.requests_per_second))

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not math.isfinite(self.requests_per_second) or self.requests_per_second < 0:
            problems.append(("requests_per_second", "must be 0 (off) or a positive number"))
        if self.burst < 0:
            problems.append(("burst", "must be 0 (as many as requests_per_second) or greater"))
        return problems


class RateDecision(NamedTuple):
    allowed: bool
    remaining: int  # whole requests left in the bucket after this one
    retry_after_s: int  # 0 when allowed; else whole seconds until one request is allowed


class TokenBucketLimiter:
    """`check(key)` takes one token from the key's bucket if it has one."""

    def __init__(self, requests_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if requests_per_second <= 0 or burst <= 0:
            raise ValueError("requests_per_second and burst must be greater than 0")
        self._rate = requests_per_second
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, time of the last refill)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @classmethod
    def from_config(cls, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic
                    ) -> TokenBucketLimiter | None:
        return cls(config.requests_per_second, config.bucket_size, clock) if config.enabled else None

    def check(self, key: str) -> RateDecision:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            tokens = self._burst
            if len(self._buckets) >= self._max_keys:
                self._buckets.popitem(last=False)
        else:
            tokens = min(self._burst, bucket[0] + max(0.0, now - bucket[1]) * self._rate)
            self._buckets.move_to_end(key)
        if tokens >= 1.0:
            tokens -= 1.0
            self._buckets[key] = (tokens, now)
            return RateDecision(True, int(tokens), 0)
        self._buckets[key] = (tokens, now)
        return RateDecision(False, 0, max(1, math.ceil((1.0 - tokens) / self._rate)))
