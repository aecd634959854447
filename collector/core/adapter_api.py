"""The adapter plugin contract: a vendor's request in, OTLP spans and the vendor's response out.
It is all an adapter imports from the core; the receiver that serves a plugin (its listener,
limits, TLS, rate limit, retry window) is configured by collector.receivers.adapter.config.

An adapter is pure translation. It never opens a socket or a file, keeps no globals and reads
no clock: the receiver that serves its routes hands it the decoded request, the time and a
read-only view of the little state it keeps (idempotency keys, ids already seen), and applies
the state writes the adapter returns only after its spans were accepted by the pipeline."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Protocol

from spanhouse.collector.core.component import Traces
from spanhouse.collector.core.config.types import ADDRESS, DURATION
from spanhouse.collector.core.errors import PipelineError, RetryableError
from spanhouse.collector.core.storage import StorageClient

# How long a StateWrite without a ttl_s is kept by default.
DEFAULT_STATE_TTL_S: Final = 7 * 24 * 3600.0

# What Services.consume raises when the pipeline refuses spans (full, storage down, bad data):
# a ServiceRoute may catch it, or let it through to be answered in the vendor's error shape.
ConsumeRefused = PipelineError


class ServiceUnavailable(RetryableError):
    """Raised by a ServiceRoute when what it needs (stored traces, an upstream) cannot be reached
    now: the receiver answers 503 with Retry-After, in the vendor's error shape. The message is
    for the log only."""


@dataclass(frozen=True, slots=True)
class AdapterRequest:
    method: str
    path: str  # the request path as sent
    path_params: Mapping[str, str]  # from the route template, e.g. {"trace_id": "..."}
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lowercased
    body: Any  # decoded JSON; None for an empty body
    tenant: str  # the caller's tenant (collector.auth); "default" without an auth section
    received_at_ns: int  # the receiver's clock, Unix nanoseconds
    # The receiver checked that `body` nests no deeper than this (limits.max_json_depth), so an
    # adapter with a depth rule of its own may skip walking it again; None: not checked.
    max_body_depth: int | None = None


@dataclass(frozen=True, slots=True)
class AdapterResponse:
    status: int
    body: Any  # JSON-serialisable (orjson), or None for an empty body
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StateWrite:
    """A key the receiver stores once the spans of the request were accepted."""

    namespace: str
    key: str
    value: bytes
    ttl_s: float | None = None  # None: the receiver's state_ttl; 0: kept for ever
    # The write claims its key (an idempotency key, an id already seen): while the request that
    # writes it is being stored, a second request claiming the same key waits for it and is
    # translated again against the state it wrote, so simultaneous repeats are stored once.
    # False for aggregates that every request of a tenant rewrites (usage counters, records):
    # claiming those would make a tenant's requests wait for one another.
    exclusive: bool = True


@dataclass(frozen=True, slots=True)
class AdapterResult:
    response: AdapterResponse
    traces: Traces | None = None  # None or empty: nothing for the pipeline
    state_writes: Sequence[StateWrite] = ()


class StateView(Protocol):
    """Read access to the receiver's state store, scoped by namespace."""

    def get(self, namespace: str, key: str) -> bytes | None: ...

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]: ...


Handler = Callable[[AdapterRequest, StateView], AdapterResult]


@dataclass(frozen=True, slots=True)
class Route:
    method: str  # "POST"
    path: str  # aiohttp route template: "/api/v1/dashboard/traces/{trace_id}"
    handle: Handler
    # Routes that take a body decode it as JSON; the rest get body=None.
    json_body: bool = True


class Services(Protocol):
    """What a ServiceRoute may use: the few kinds of I/O a pure translation cannot do
    (forwarding to an upstream, reading stored traces, writing side tables). The receiver
    provides them; tests can provide doubles."""

    async def consume(self, traces: Traces) -> None:
        """Hands spans to the pipeline; raises ConsumeRefused when refused."""
        ...

    @property
    def state(self) -> StateView: ...

    async def write_state(self, writes: Sequence[StateWrite]) -> None: ...

    def storage(self) -> StorageClient:
        """The stored traces (collector.core.storage.StorageClient: `query(sql, parameters)`
        read-only, `command`/`insert_rows` for side tables, blocking: call them in a thread);
        raises collector.core.storage.NoStorageError (a RetryableError) when no exporter of the
        collector stores spans."""
        ...

    def http_client(self) -> Any:
        """A shared aiohttp.ClientSession for calls to upstreams."""
        ...

    def now_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StreamingAnswer:
    """An answer sent as it is produced (a proxied event stream): the receiver sends the status
    and headers, then each chunk as soon as it is yielded, and closes `chunks` (so that its
    `finally` runs) whether or not the client stayed to the end."""

    status: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]


# raw body (after decompression; b"" for routes without a body) -> an AdapterResponse or a
# StreamingAnswer (aiohttp's StreamResponse is allowed too, unprepared).
ServiceHandler = Callable[[AdapterRequest, bytes, Services], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ServiceRoute:
    """A route that needs I/O beyond translation. Keep its handler thin: validation and the
    vendor-to-OTLP mapping still belong in pure functions with golden tests."""

    method: str
    path: str
    handle: ServiceHandler
    json_body: bool = True


@dataclass(frozen=True, slots=True)
class OtlpRoute:
    """OTLP over HTTP (protobuf and JSON) served at a vendor's path by the same code as the
    `otlp` receiver's `POST /v1/traces` (collector/server/otlp_http.py)."""

    method: str
    path: str


class Adapter(Protocol):
    """What a plugin provides once configured: its routes and its error shape."""

    @property
    def routes(self) -> Sequence[Route | ServiceRoute | OtlpRoute]: ...

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        """The vendor's documented error body for a status the receiver decides (400 for a body
        that is not JSON, 401, 403, 404, 413, 415, 429, 503). `code` is a short machine word
        (`bad_request`, `unauthorized`, `payload_too_large`, `rate_limited`, `unavailable`)."""
        ...


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """A plugin's own settings. Its config class subclasses this, overriding `endpoint`'s default
    and adding its fields; the receiver adds the settings every adapter receiver has (body size,
    state directory, rate limit, TLS, limits, retry window) beside them in the same section."""

    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:0", metadata={
        "description": "host:port this receiver listens on."})
    # Here, not with the receiver's settings: it is what a StateWrite's ttl_s=None means.
    state_ttl: Annotated[float, DURATION] = field(default=DEFAULT_STATE_TTL_S, metadata={
        "description": "How long ids already seen are remembered for deduplication."})

    def validate(self) -> list[tuple[str, str]]:
        """(key, problem) pairs of the plugin's own settings; [] when they are valid."""
        return []


@dataclass(frozen=True, slots=True)
class AdapterPlugin:
    """What the `spanhouse.adapters` entry point names: a receiver type for one vendor."""

    name: str  # the receiver type in collector.yaml, e.g. "dynamiq"
    config_class: builtins.type[AdapterConfig]
    create: Callable[[Any], Adapter]  # config -> adapter
    description: str = ""
    # Attributes of its spans, beyond the GenAI conventions, that hold user content (prompts,
    # responses, tool output): what content rules such as the governance processor's PII scan.
    content_attributes: tuple[str, ...] = ()
