"""A minimal third-party adapter: `POST /echo {"name": ...}` becomes one span."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from spanhouse.adapters.common.attributes import new_traces, put
from spanhouse.adapters.common.ids import span_id_from, trace_id_from
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


@dataclass(frozen=True, slots=True)
class EchoConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:4499", metadata={"description": "Listen address."})
    greeting: str = field(default="hello", metadata={"description": "Word put on every span."})


class EchoAdapter:
    def __init__(self, config: EchoConfig) -> None:
        self._config = config
        self.routes = [Route("POST", "/echo", self.handle)]

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        return AdapterResponse(status, {"echo_error": code, "why": message})

    def handle(self, request: AdapterRequest, state: StateView) -> AdapterResult:
        body: Any = request.body
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return AdapterResult(self.error_response(400, "bad_request", "name must be a string"))
        traces, spans = new_traces("echo-service")
        span = spans.add(name=body["name"], trace_id=trace_id_from(body["name"]), span_id=span_id_from(body["name"]),
                         start_time_unix_nano=request.received_at_ns, end_time_unix_nano=request.received_at_ns)
        put(span.attributes, "echo.greeting", self._config.greeting)
        return AdapterResult(AdapterResponse(200, {"echoed": body["name"]}), traces)


PLUGIN = AdapterPlugin(name="echo", config_class=EchoConfig, create=EchoAdapter, description="test plugin")
