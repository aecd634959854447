"""The Archal adapter plugin: Archal's trace ingestion (`POST /api/traces`) and hosted session
creation (`POST /api/sessions`) served as the vendor documents them, recorded as OTLP spans.

The translation lives in adapters/archal/traces.py and adapters/archal/sessions.py; the rules
and the field mapping are in docs/adapters/archal.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from spanhouse.adapters.archal.errors import error_response
from spanhouse.adapters.archal.sessions import handle_sessions
from spanhouse.adapters.archal.traces import handle_traces
from spanhouse.collector.core.adapter_api import (
    AdapterConfig,
    AdapterPlugin,
    AdapterRequest,
    AdapterResponse,
    AdapterResult,
    Route,
    StateView,
)
from spanhouse.collector.core.config.types import ADDRESS

DEFAULT_ENDPOINT: Final = "127.0.0.1:4410"
TRACES_PATH: Final = "/api/traces"
SESSIONS_PATH: Final = "/api/sessions"


@dataclass(frozen=True, slots=True)
class ArchalConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_ENDPOINT, metadata={
        "description": "host:port this receiver listens on (Archal clients change only their base URL to it)."})
    runtime_base_url: str = field(default="", metadata={
        "description": "Base URL written into a created session's endpoints and apiBaseUrls "
                       "({base}/runtime/{sessionId}/{cloneId}[/api]), i.e. where your clones are served. "
                       "Empty: http:// and this receiver's endpoint."})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.runtime_base_url and not self.runtime_base_url.startswith(("http://", "https://")):
            problems.append(("runtime_base_url", 'must start with "http://" or "https://"'))
        return problems


class ArchalAdapter:
    """Pure translation: no I/O, no clock; the receiver hands each request in."""

    def __init__(self, config: ArchalConfig) -> None:
        self._runtime_base_url = config.runtime_base_url or f"http://{config.endpoint}"
        self._routes = (Route("POST", TRACES_PATH, self.handle_traces),
                        Route("POST", SESSIONS_PATH, self.handle_sessions))

    @property
    def routes(self) -> Sequence[Route]:
        return self._routes

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        return error_response(status, code, message, retry_after_s)

    def handle_traces(self, request: AdapterRequest, state: StateView) -> AdapterResult:
        return handle_traces(request)

    def handle_sessions(self, request: AdapterRequest, state: StateView) -> AdapterResult:
        return handle_sessions(request, state, self._runtime_base_url)


def create_adapter(config: Any) -> ArchalAdapter:
    return ArchalAdapter(config)


PLUGIN: Final = AdapterPlugin(
    name="archal", config_class=ArchalConfig, create=create_adapter,
    description="Archal: POST /api/traces (any JSON object) and POST /api/sessions (hosted clone sessions).")
