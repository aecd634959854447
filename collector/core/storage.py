"""The typed interface between the read side and storage (as otelcol's storage extensions): a
component that stores spans provides a `StorageClient`, the host hands it out by component id,
and the tables the read side and the adapters may use are named here, below all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

from spanhouse.collector.core.errors import RetryableError

# The side table of per-trace signals that are not spans (AITracer's feedback, AgentVista's
# outcomes): the ClickHouse exporter creates it with the rest of its schema.
FEEDBACK_TABLE: Final = "otel_trace_feedback"
# Beside the spans table, the table of each trace's time range (`<traces table>_trace_id_ts`).
LOOKUP_TABLE_SUFFIX: Final = "_trace_id_ts"

# Column names, then the rows.
QueryResult = tuple[list[str], list[tuple[Any, ...]]]


class StorageClient(Protocol):
    """What the read side (query API, vendor read routes, `spanhouse sql`) and side-table writers
    may do with stored traces. Every method blocks: call it in a thread. Each raises
    ConnectionError while the storage cannot be reached (the caller answers "retry later")."""

    @property
    def database(self) -> str: ...

    @property
    def traces_table(self) -> str: ...

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None,
              readonly: bool = True) -> QueryResult:
        """Column names and rows of `sql`, whose `{name:Type}` placeholders `parameters` bind.
        With `readonly`, `sql` must be one reading statement, run without write access."""
        ...

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """Runs one statement (side tables' DDL and small writes)."""
        ...

    def insert_rows(self, table: str, column_names: Sequence[str], columns: Sequence[Sequence[Any]],
                    settings: Mapping[str, Any] | None = None) -> None:
        """A column-oriented insert into a side table of `database`."""
        ...


@runtime_checkable
class StorageProvider(Protocol):
    """A component that provides storage (the `clickhouse` exporter declares it). The host asks
    each of its exporters for this interface, as otelcol's storage clients look through
    `host.GetExtensions()` for a `storage.Extension`."""

    def storage_client(self) -> StorageClient:
        """The client; NoStorageError before the component is started."""
        ...


class NoStorageError(RetryableError):
    """No started component provides the storage asked for: nothing stored can be read (503;
    the message names what is configured, for the log)."""


def choose_storage(providers: Mapping[str, StorageProvider], name: str | None = None) -> StorageClient:
    """The client of provider `name`, or of the first one; NoStorageError naming what is
    configured otherwise. The one lookup every Host implementation shares."""
    if name is None:
        if not providers:
            raise NoStorageError("no exporter of this collector provides storage (a clickhouse exporter in a "
                                 "pipeline): nothing stored to read")
        return next(iter(providers.values())).storage_client()
    provider = providers.get(name)
    if provider is None:
        raise NoStorageError(f'no exporter "{name}" providing storage in this collector '
                             f"(configured: {', '.join(providers) or 'none'})")
    return provider.storage_client()
