"""Exponential backoff with jitter, as the OpenTelemetry Collector's retry_on_failure."""

from __future__ import annotations

import random
from collections.abc import Callable

from spanhouse.exporters.queue.config import RetryConfig


class Backoff:
    def __init__(self, config: RetryConfig, clock: Callable[[], float], rng: random.Random | None = None) -> None:
        self._config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self._interval = config.initial_interval
        self._started = clock()

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None once max_elapsed_time has passed."""
        config = self._config
        if config.max_elapsed_time > 0 and self._clock() - self._started >= config.max_elapsed_time:
            return None
        factor = 1 + config.randomization_factor * (2 * self._rng.random() - 1)
        delay = self._interval * factor
        self._interval = min(self._interval * config.multiplier, config.max_interval)
        return delay
