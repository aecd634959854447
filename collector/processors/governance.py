"""The `governance` processor: rules that add findings to spans (`governance.findings`, a list of
rule ids, and `governance.severity`): PII and secrets in prompts and responses, models outside an
allow-list, cost per call above a ceiling. In `redaction` mode the matches are masked before
the spans go on, so they are never stored. Usable on any pipeline."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from spanhouse.collector.core.component import Consumer, CreateSettings, Factory, Host, Kind, Traces
from spanhouse.collector.core.metrics import Counter
from spanhouse.collector.governance.rules import (
    ALL_RULES,
    COST_CEILING,
    MODEL_NOT_ALLOWED,
    PII_RULES,
    find_pii,
    mask_text,
    model_allowed,
    severity_of,
)

FINDINGS_ATTRIBUTE: Final = "governance.findings"
SEVERITY_ATTRIBUTE: Final = "governance.severity"
# Where prompts and responses are: the GenAI and OpenInference conventions and older producers'
# names. Vendors' own names are declared by their receivers (CreateSettings.content_attributes).
DEFAULT_CONTENT_ATTRIBUTES: Final = (
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
    "gen_ai.completion", "input.value", "output.value", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
)
# Per-message events of older producers (gen_ai.user.message...) hold the text here.
EVENT_CONTENT_ATTRIBUTES: Final = frozenset({"content", "gen_ai.prompt", "gen_ai.completion"})
# The model a reader shows, in its order of preference (genai-semconv.md).
MODEL_ATTRIBUTES: Final = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
COST_ATTRIBUTES: Final = ("gen_ai.usage.cost", "llm.cost.total")


@dataclass(frozen=True, slots=True)
class GovernanceConfig:
    pii_rules: tuple[str, ...] = field(default=PII_RULES, metadata={
        "description": "PII rules to run on content attributes: pii.email, pii.phone, pii.card (Luhn-valid "
                       "numbers), pii.secret (API keys, tokens, private keys); [] runs none."})
    mode: Literal["detect", "redaction"] = field(default="detect", metadata={
        "description": "detect: add findings only; redaction: also replace every match with `mask` "
                       "before the span is stored."})
    mask: str = field(default="[REDACTED:{rule}]", metadata={
        "description": "What a match is replaced with in redaction mode; {rule} names the rule."})
    allowed_models: tuple[str, ...] = field(default=(), metadata={
        "description": "Models allowed (exact names or patterns like gpt-4o*); a span of another model gets "
                       "model.not_allowed. Empty: any model."})
    max_cost_usd: float = field(default=0.0, metadata={
        "description": "A span whose gen_ai.usage.cost (or llm.cost.total) is above this gets cost.ceiling; "
                       "0 turns the rule off."})
    content_attributes: tuple[str, ...] = field(default=DEFAULT_CONTENT_ATTRIBUTES, metadata={
        "description": "Span attributes that hold prompts and responses, scanned by the PII rules, "
                       "beside those the configured receivers declare as content (e.g. aitracer's)."})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for index, rule in enumerate(self.pii_rules):
            if rule not in PII_RULES:
                problems.append((f"pii_rules[{index}]", f'unknown rule "{rule}" (known: {", ".join(PII_RULES)})'))
        if not math.isfinite(self.max_cost_usd) or self.max_cost_usd < 0:
            problems.append(("max_cost_usd", "must be 0 (off) or a positive amount"))
        return problems


class GovernanceProcessor:
    # It adds findings to spans and masks their content in place: the fan-out copies for it.
    mutates_data = True

    def __init__(self, settings: CreateSettings, config: GovernanceConfig, next_consumer: Consumer) -> None:
        self._id = settings.component_id
        self._config = config
        self._next = next_consumer
        self._pii_rules = frozenset(config.pii_rules)
        content = frozenset(config.content_attributes) | settings.content_attributes
        self._content_keys = content if config.pii_rules else frozenset()
        self._model_keys = frozenset(MODEL_ATTRIBUTES) if config.allowed_models else frozenset()
        self._cost_keys = frozenset(COST_ATTRIBUTES) if config.max_cost_usd > 0 else frozenset()
        self._watched = self._content_keys | self._model_keys | self._cost_keys | {FINDINGS_ATTRIBUTE}
        self._redact = config.mode == "redaction"
        self._findings: dict[str, Counter] = {rule: Counter() for rule in ALL_RULES}

    async def start(self, host: Host) -> None:
        telemetry = getattr(host, "telemetry", None)
        if telemetry is not None:
            self._findings = {rule: telemetry.counter(
                "spanhouse_processor_governance_findings", "Governance findings added to spans, by rule",
                processor=self._id, rule=rule) for rule in ALL_RULES}

    async def shutdown(self) -> None:
        return None

    async def consume(self, traces: Traces) -> None:
        for resource_spans in traces.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.inspect(span)
        await self._next.consume(traces)

    def inspect(self, span: Any) -> list[str]:
        """Adds the findings of one span to it (and masks its content in redaction mode)."""
        watched = self._watched
        relevant = [item for item in span.attributes if item.key in watched]
        events = [event for event in span.events if event.attributes] if self._content_keys else []
        if not relevant and not events:
            return []  # the common case: a span with no content, model or cost to check
        found: set[str] = set()
        previous: list[str] = []
        values: dict[str, AnyValue] = {}
        for item in relevant:
            key = item.key
            if key == FINDINGS_ATTRIBUTE:
                previous = [value.string_value for value in item.value.array_value.values]
            elif key in self._content_keys:
                self._scan(item.value, found)
            else:
                values.setdefault(key, item.value)
        for event in events:
            for item in event.attributes:
                if item.key in EVENT_CONTENT_ATTRIBUTES or item.key in self._content_keys:
                    self._scan(item.value, found)
        if self._model_keys:
            model = next((values[key].string_value for key in MODEL_ATTRIBUTES
                          if key in values and values[key].string_value), None)
            if model is not None and not model_allowed(model, self._config.allowed_models):
                found.add(MODEL_NOT_ALLOWED)
        if self._cost_keys:
            cost = next((_number(values[key]) for key in COST_ATTRIBUTES if key in values), None)
            if cost is not None and cost > self._config.max_cost_usd:
                found.add(COST_CEILING)
        for rule in found:
            self._findings[rule].add()
        if not found:
            return previous
        findings = sorted(found.union(previous))
        _replace(span.attributes, FINDINGS_ATTRIBUTE, AnyValue(array_value=ArrayValue(
            values=[AnyValue(string_value=rule) for rule in findings])))
        _replace(span.attributes, SEVERITY_ATTRIBUTE, AnyValue(string_value=severity_of(findings)))
        return findings

    def _scan(self, value: AnyValue, found: set[str]) -> None:
        kind = value.WhichOneof("value")
        if kind == "string_value":
            self._scan_text(value, found)
        elif kind == "array_value":
            for item in value.array_value.values:
                if item.WhichOneof("value") == "string_value":
                    self._scan_text(item, found)

    def _scan_text(self, value: AnyValue, found: set[str]) -> None:
        matches = find_pii(value.string_value, self._pii_rules)
        if not matches:
            return
        found.update(match.rule for match in matches)
        if self._redact:
            value.string_value = mask_text(value.string_value, matches, self._config.mask)


def _number(value: AnyValue) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return float(value.int_value)
    if kind == "string_value":
        try:
            return float(value.string_value)
        except ValueError:
            return None
    return None


def _replace(attributes: Any, key: str, value: AnyValue) -> None:
    for index in reversed(range(len(attributes))):
        if attributes[index].key == key:
            del attributes[index]
    attributes.append(KeyValue(key=key, value=value))


def findings_of(attributes: Iterable[Any]) -> list[str]:
    """The rule ids in a span's `governance.findings`, for readers and tests."""
    for item in attributes:
        if item.key == FINDINGS_ATTRIBUTE:
            return [value.string_value for value in item.value.array_value.values]
    return []


def _create(settings: CreateSettings, config: Any, next_consumer: Consumer) -> GovernanceProcessor:
    return GovernanceProcessor(settings, config, next_consumer)


FACTORY = Factory(type="governance", kind=Kind.PROCESSOR, config_class=GovernanceConfig, create=_create,
                  description="Adds governance findings (PII, model allow-list, cost ceiling) to spans; "
                              "masks PII in redaction mode.")
