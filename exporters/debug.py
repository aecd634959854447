"""The `debug` exporter: writes what reaches it to stderr, for trying out pipelines."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

import orjson

from spanhouse.collector.core.component import CreateSettings, Factory, Host, Kind, Traces, span_count
from spanhouse.collector.core.metrics import Counter, exporter_sent_spans
from spanhouse.proto.otlp_json import encode_traces

Verbosity = Literal["basic", "normal", "detailed"]
VERBOSITIES: Final[tuple[str, ...]] = get_args(Verbosity)


@dataclass(frozen=True, slots=True)
class DebugConfig:
    verbosity: Verbosity = field(default="basic", metadata={
        "description": "basic: one line per batch; normal: one line per span; "
                       "detailed: the whole batch as indented OTLP/JSON."})

    def validate(self) -> list[tuple[str, str]]:
        if self.verbosity not in VERBOSITIES:
            return [("verbosity", f'must be one of {", ".join(VERBOSITIES)}, got "{self.verbosity}"')]
        return []


def _summary(component_id: str, traces: Traces) -> str:
    return f"{component_id}: {span_count(traces)} spans in {len(traces.resource_spans)} resource spans"


def _span_lines(traces: Traces) -> list[str]:
    lines = []
    for resource_spans in traces.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                duration_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
                # The name is JSON-quoted so that a newline in it cannot break the one-line form.
                name = orjson.dumps(span.name).decode()
                lines.append(f"span {name} trace_id={span.trace_id.hex()} span_id={span.span_id.hex()} "
                             f"duration={duration_ms:.3f}ms")
    return lines


class DebugExporter:
    """Output goes to stderr directly, not through logging: it is this exporter's product,
    and must show whether or not the collector's own logging is configured."""

    def __init__(self, settings: CreateSettings, config: DebugConfig) -> None:
        self._settings = settings
        self._config = config
        self._sent_spans: Counter | None = None

    async def start(self, host: Host) -> None:
        if host.telemetry is not None:
            self._sent_spans = exporter_sent_spans(host.telemetry, self._settings.component_id)

    async def consume(self, traces: Traces) -> None:
        lines = [_summary(self._settings.component_id, traces)]
        if self._config.verbosity == "normal":
            lines.extend(_span_lines(traces))
        elif self._config.verbosity == "detailed":
            document = orjson.loads(encode_traces(traces))
            lines.append(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        # Looked up on each call, so that redirecting sys.stderr (as pytest does) is honoured.
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        if self._sent_spans is not None:
            self._sent_spans.add(span_count(traces))

    async def shutdown(self) -> None:
        return None


FACTORY: Final = Factory(
    type="debug",
    kind=Kind.EXPORTER,
    config_class=DebugConfig,
    create=lambda settings, config: DebugExporter(settings, config),
    description="Writes received spans to stderr: a count per batch, a line per span, or OTLP/JSON.",
)
