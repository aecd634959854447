"""`sending_queue` and `retry_on_failure`: the OpenTelemetry Collector exporter helper's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from spanhouse.collector.core.config.types import BYTE_SIZE, DURATION, PATH


@dataclass(frozen=True, slots=True)
class QueueBatchConfig:
    min_size: int = field(default=8192, metadata={
        "description": "Spans gathered from the queue into one insert before the flush timeout."})
    max_size: int = field(default=50_000, metadata={
        "description": "Most spans per insert (a single larger request is still sent whole)."})
    flush_timeout: Annotated[float, DURATION] = field(default=0.2, metadata={
        "description": "Longest wait for min_size spans before inserting what there is."})


@dataclass(frozen=True, slots=True)
class SendingQueueConfig:
    enabled: bool = field(default=True, metadata={
        "description": "Write accepted spans to the queue and answer senders once they are durable there; "
                       "off: answer only after the insert."})
    storage: Literal["file"] = field(default="file", metadata={
        "description": "Where the queue lives; only `file` (persistent) is offered."})
    directory: Annotated[str, PATH] = field(default="./data/queue", metadata={
        "description": "Directory of the queue files (one subdirectory per exporter), relative to the config."})
    sizer: Literal["bytes", "spans", "requests"] = field(default="bytes", metadata={
        "description": "What queue_size counts."})
    queue_size: Annotated[int, BYTE_SIZE] = field(default=512 * 1024 * 1024, metadata={
        "description": "Capacity; when full, receivers answer 429 / RESOURCE_EXHAUSTED."})
    num_consumers: int = field(default=2, metadata={
        "description": "Inserts in flight at once."})
    fsync: Literal["always", "batch", "never"] = field(default="batch", metadata={
        "description": "always: fsync each request before answering; batch: one fsync per fsync_interval "
                       "for all requests in it; never: leave it to the OS (survives a process crash, not a "
                       "power loss)."})
    fsync_interval: Annotated[float, DURATION] = field(default=0.005, metadata={
        "description": "Group-commit window of fsync: batch."})
    batch: QueueBatchConfig = field(default_factory=QueueBatchConfig, metadata={
        "description": "How records read from the queue are grouped into inserts."})

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.queue_size <= 0:
            found.append(("sending_queue.queue_size", "must be greater than 0"))
        if self.num_consumers < 1:
            found.append(("sending_queue.num_consumers", "must be at least 1"))
        if self.batch.min_size < 1:
            found.append(("sending_queue.batch.min_size", "must be at least 1"))
        if 0 < self.batch.max_size < self.batch.min_size:
            found.append(("sending_queue.batch.max_size", "must be 0 or at least min_size"))
        return found


@dataclass(frozen=True, slots=True)
class RetryConfig:
    enabled: bool = field(default=True, metadata={"description": "Retry retryable failures."})
    initial_interval: Annotated[float, DURATION] = field(default=5.0, metadata={
        "description": "Wait before the first retry."})
    randomization_factor: float = field(default=0.5, metadata={
        "description": "Jitter: each wait is multiplied by a random factor in [1-f, 1+f]."})
    multiplier: float = field(default=1.5, metadata={"description": "Growth of the wait per retry."})
    max_interval: Annotated[float, DURATION] = field(default=30.0, metadata={
        "description": "Longest wait between retries."})
    max_elapsed_time: Annotated[float, DURATION] = field(default=0.0, metadata={
        "description": "Give up (into the dead-letter file) after this long; 0 retries for ever, the default "
                       "with a persistent queue."})

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.initial_interval <= 0:
            found.append(("retry_on_failure.initial_interval", "must be greater than 0"))
        if not 0 <= self.randomization_factor < 1:
            found.append(("retry_on_failure.randomization_factor", "must be in [0, 1)"))
        if self.multiplier < 1:
            found.append(("retry_on_failure.multiplier", "must be at least 1"))
        if self.max_interval < self.initial_interval:
            found.append(("retry_on_failure.max_interval", "must be at least initial_interval"))
        return found
