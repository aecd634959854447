"""Zipkin v2 JSON (`POST /api/v2/spans`) to OTLP, mapped as the OpenTelemetry Collector contrib
zipkin receiver maps it (pkg/translator/zipkin/zipkinv2/to_translator.go, ids parsed as
openzipkin/zipkin-go does); where spanhouse departs from it, docs/adapters/zipkin.md says why.
Spans are read in adapters/zipkin/validate.py and mapped in adapters/zipkin/spans.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

from spanhouse.adapters.common.attributes import clean_text
from spanhouse.adapters.common.messages import describe
from spanhouse.adapters.zipkin.spans import to_traces
from spanhouse.adapters.zipkin.validate import SpanError, ZipkinSpan, read_span
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
class ZipkinConfig(AdapterConfig):
    endpoint: Annotated[str, ADDRESS] = field(default="127.0.0.1:9411", metadata={
        "description": "host:port this receiver listens on (9411 is Zipkin's port)."})


@dataclass(frozen=True, slots=True)
class ZipkinAdapter:
    config: ZipkinConfig

    @property
    def routes(self) -> Sequence[Route]:
        return (Route("POST", "/api/v2/spans", handle_spans),)

    def error_response(self, status: int, code: str, message: str,
                       retry_after_s: int | None = None) -> AdapterResponse:
        # Zipkin servers answer errors with a line of text; a JSON object holding that line
        # keeps one content type for every answer of this receiver.
        return AdapterResponse(status, {"error": message or code})


PLUGIN: Final = AdapterPlugin(name="zipkin", config_class=ZipkinConfig, create=ZipkinAdapter,
                              description="Zipkin v2 JSON spans (POST /api/v2/spans)")


def handle_spans(request: AdapterRequest, state: StateView) -> AdapterResult:
    body = request.body
    if not isinstance(body, list):
        return bad_request("expected a JSON list of Zipkin v2 spans" + ("" if body is None else
                                                                          f", got {describe(body, literal=True)}"))
    spans: list[ZipkinSpan] = []
    for index, item in enumerate(body):
        try:
            spans.append(read_span(item))
        except SpanError as error:
            return bad_request(f"spans[{index}]{error}")
    # An empty list is what Zipkin servers accept with 202 too.
    return AdapterResult(AdapterResponse(202, None), to_traces(spans) if spans else None)


def bad_request(message: str) -> AdapterResult:
    return AdapterResult(AdapterResponse(400, {"error": clean_text(message)}))
