"""Dynamiq trace runs to OTLP: `POST /v1/traces` with `{"runs": [...]}` as the Dynamiq SDK's
DynamiqTracingClient sends it; one span per run, one child span per entry of `executions`.

The field rules are in docs/adapters/dynamiq.md. What the SDK puts in a run (checked against
dynamiq-ai/dynamiq `dynamiq/callbacks/tracing.py`): `metadata.workflow` {id, version} on the
workflow run, `metadata.node` (the serialized node: group, type, name, model, connection,
prompt...) on node runs, `metadata.usage` {prompt_tokens, completion_tokens, ...} once an LLM
node has answered, and `output` {content, tool_calls} for LLM nodes.

The translation lives in adapters/dynamiq/validate.py (checking runs), adapters/dynamiq/spans.py
(runs to spans), adapters/dynamiq/genai.py (GenAI conventions) and adapters/dynamiq/attributes.py
(attribute values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from spanhouse.adapters.common.attributes import clean_text
from spanhouse.adapters.dynamiq.spans import to_traces
from spanhouse.adapters.dynamiq.validate import validate
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

# Go's http.StatusText, which the Dynamiq collector's error bodies use as `message`.
STATUS_TEXT: Final = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                      405: "Method Not Allowed", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
                      429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class DynamiqConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:4411", metadata={
        "description": "host:port this receiver listens on (Dynamiq and OTLP both use POST /v1/traces)."})


@dataclass(frozen=True, slots=True)
class DynamiqAdapter:
    config: DynamiqConfig

    @property
    def routes(self) -> Sequence[Route]:
        return (Route("POST", "/v1/traces", handle_traces),)

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        error: dict[str, Any] = {"code": code, "message": STATUS_TEXT.get(status, "Error")}
        if status == 400 and message:
            # The receiver's 400s (a body that is not JSON) are about the body as a whole.
            error["details"] = {"body": clean_text(message)}
        return AdapterResponse(status, {"error": error})


PLUGIN: Final = AdapterPlugin(name="dynamiq", config_class=DynamiqConfig, create=DynamiqAdapter,
                              description="Dynamiq SDK trace runs (POST /v1/traces)")


def handle_traces(request: AdapterRequest, state: StateView) -> AdapterResult:
    runs, details = validate(request.body, request.max_body_depth)
    if details:
        return AdapterResult(AdapterResponse(400, {"error": {
            "code": "bad_request", "message": STATUS_TEXT[400], "details": details}}))
    return AdapterResult(AdapterResponse(200, {"message": "ok"}), to_traces(runs))
