"""The test doubles of the running service that component tests share: one Host (what a
started component reaches, collector.core.component.Host) and one manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spanhouse.collector.core.metrics import Metrics
from spanhouse.collector.core.storage import NoStorageError, StorageClient


@dataclass
class StubHost:
    """A Host for component-level tests. `http_servers` is there only when a test gives one
    (collector.server.http_host.HttpServers): a component that serves HTTP unexpectedly fails
    the test. Fatal errors are recorded in `fatal_errors` and, unless `raise_fatal` is off
    (a test that asserts on them), raised where they are reported."""

    telemetry: Metrics | None = field(default_factory=Metrics)
    ready: bool = True
    servers: Any = None
    storage_client: StorageClient | None = None
    raise_fatal: bool = True
    fatal_errors: list[BaseException] = field(default_factory=list)

    @property
    def http_servers(self) -> Any:
        if self.servers is None:
            raise AssertionError("this component should not serve HTTP in this test")
        return self.servers

    def report_fatal_error(self, error: BaseException) -> None:
        self.fatal_errors.append(error)
        if self.raise_fatal:
            raise error

    def storage(self, name: str | None = None) -> StorageClient:
        if self.storage_client is None:
            raise NoStorageError("no storage in this test")
        return self.storage_client


class ManualClock:
    """A clock that moves only when the test moves it: pass it where code takes a
    `clock: Callable[[], float]`, and advance `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
