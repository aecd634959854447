"""Golden and unit tests of the agentvista adapter (adapters/agentvista/plugin.py): the documented
example, per-trace rejection, the 100-span cap, idempotency, agent records and the monthly
event limit. Regenerate the golden files with SPANHOUSE_REGENERATE_GOLDEN=1 (see golden.py)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from spanhouse.adapters.agentvista.plugin import BATCH_PATH, PLUGIN, AgentVistaAdapter, AgentVistaConfig, agent_id
from spanhouse.adapters.agentvista.state import AGENT_RECORD_TTL_S, AGENTS_NAMESPACE, SPANS_NAMESPACE, USAGE_NAMESPACE
from spanhouse.adapters.common.ids import span_id_from
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from spanhouse.collector.receivers.adapter.config import receiver_config_class
from tests.adapters.golden import MemoryState, check_golden, load_case

VENDOR = "agentvista"
EXAMPLE_TRACE_ID = "550e8400-e29b-41d4-a716-446655440000"


def adapter(**settings: Any) -> AgentVistaAdapter:
    created: AgentVistaAdapter = PLUGIN.create(AgentVistaConfig(**settings))
    return created


def handle(request: AdapterRequest, state: Any) -> AdapterResult:
    return adapter().handle_batch(request, state)


def spans_of(result: AdapterResult) -> list[Any]:
    assert result.traces is not None
    return [span for resource in result.traces.resource_spans for scope in resource.scope_spans
            for span in scope.spans]


def attributes(span: Any) -> dict[str, Any]:
    return {item.key: getattr(item.value, item.value.WhichOneof("value")) for item in span.attributes}


def stored_after(case: str, state: MemoryState | None = None) -> MemoryState:
    """A state holding what the receiver stores once `case` was accepted."""
    state = state or MemoryState()
    request, _ = load_case(VENDOR, case)
    state.apply(handle(request, state))
    return state


def test_plugin_and_config_defaults() -> None:
    assert PLUGIN.name == "agentvista"
    assert PLUGIN.config_class is AgentVistaConfig
    config = AgentVistaConfig()
    assert config.endpoint == "127.0.0.1:4413"
    assert config.monthly_event_limit == 0
    assert config.validate() == []
    assert AgentVistaConfig(monthly_event_limit=-1).validate() == [
        ("monthly_event_limit", "must be 0 (no limit) or greater")]
    # The receiver's settings sit beside the plugin's in one section, validated together.
    assert receiver_config_class(AgentVistaConfig)(max_request_body_size=0, monthly_event_limit=-1).validate() == [
        ("max_request_body_size", "must be greater than 0"), ("monthly_event_limit", "must be 0 (no limit) or greater")]
    routes = adapter().routes
    # The read routes (adapters/agentvista/read.py; compare-agents before {trace_id}).
    assert [(route.method, route.path, route.json_body) for route in routes] == [
        ("POST", BATCH_PATH, True), ("GET", "/api/v1/dashboard/traces/compare-agents", False),
        ("GET", "/api/v1/dashboard/traces/{trace_id}", False),
        ("PATCH", "/api/v1/dashboard/traces/{trace_id}/outcome", True)]


def test_documented_example() -> None:
    result = check_golden(VENDOR, "documented_example", handle)
    root, llm = spans_of(result)
    assert root.trace_id.hex() == EXAMPLE_TRACE_ID.replace("-", "")
    assert llm.parent_span_id == root.span_id
    assert llm.span_id == span_id_from("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    assert attributes(llm)["gen_ai.usage.cost"] == 0.0032
    assert attributes(llm)["agentvista.cost_usd"] == "0.003200"
    assert attributes(root)["gen_ai.agent.id"] == agent_id("default", "lead-qualifier")


def test_partial_rejection_keeps_the_valid_trace() -> None:
    result = check_golden(VENDOR, "partial_rejection", handle)
    assert result.response.body["accepted"] == 1
    assert result.response.body["rejected"] == 6
    assert {attributes(span)["agentvista.trace_id"] for span in spans_of(result)} == {
        "9b2d4f6a-1c3e-4a5b-8d7f-0e1a2b3c4d5e"}


def test_more_than_100_spans_is_refused_whole() -> None:
    result = check_golden(VENDOR, "too_many_spans", handle)
    assert result.response.status == 400
    assert result.traces is None
    assert result.state_writes == ()


def test_repeated_trace_is_accepted_and_stores_nothing() -> None:
    state = stored_after("documented_example")
    result = check_golden(VENDOR, "repeated_trace", handle, state)
    assert result.response.body == {"accepted": 1, "rejected": 0, "errors": []}
    assert result.traces is None
    assert result.state_writes == []


def test_repeated_trace_with_a_new_span_stores_only_that_span() -> None:
    state = stored_after("documented_example")
    result = check_golden(VENDOR, "repeated_trace_new_span", handle, state)
    (tool,) = spans_of(result)
    assert tool.parent_span_id == span_id_from("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    assert state.data[(USAGE_NAMESPACE, "default:2026-06")] == b"2"
    state.apply(result)
    assert state.data[(USAGE_NAMESPACE, "default:2026-06")] == b"3"


def test_trace_repeated_within_one_request_is_stored_once() -> None:
    request, _ = load_case(VENDOR, "documented_example")
    trace = request.body["traces"][0]
    twice = AdapterRequest(**{**_fields(request), "body": {"traces": [trace, trace]}})
    result = handle(twice, MemoryState())
    assert result.response.body == {"accepted": 2, "rejected": 0, "errors": []}
    assert len(spans_of(result)) == 2


def test_agent_records_are_created_once() -> None:
    known = {"id": agent_id("default", "lead-qualifier"), "name": "lead-qualifier", "tenant": "default",
             "created_at": "2026-01-01T00:00:00.000000Z"}
    state = MemoryState({(AGENTS_NAMESPACE, "default:lead-qualifier"): orjson.dumps(known)})
    result = check_golden(VENDOR, "agent_records", handle, state)
    agent_writes = [write for write in result.state_writes if write.namespace == AGENTS_NAMESPACE]
    assert [write.key for write in agent_writes] == ["default:researcher"]
    record = orjson.loads(agent_writes[0].value)
    assert record == {"id": agent_id("default", "researcher"), "name": "researcher", "tenant": "default",
                      "created_at": "2026-06-10T09:00:00.000000Z"}
    # Uppercase UUIDs name the same spans as their lowercase form.
    span_keys = [write.key for write in result.state_writes if write.namespace == SPANS_NAMESPACE]
    assert "default:c56a4180-65aa-42ec-a945-5fd21dec0538:d4a1e2b3-c4d5-4e6f-8a7b-9c0d1e2f3a4b" in span_keys


def test_agent_id_is_stable_and_tenant_scoped() -> None:
    # Pinned: changing the namespace or the name encoding would split every agent in two.
    assert agent_id("default", "lead-qualifier") == "8a2fa052-3a69-5bf7-9c34-4ba6267a5c37"
    assert uuid.UUID(agent_id("default", "lead-qualifier")).version == 5
    assert agent_id("other", "lead-qualifier") != agent_id("default", "lead-qualifier")
    assert agent_id("a:b", "c") != agent_id("a", "b:c")


def test_monthly_limit_refuses_the_whole_request() -> None:
    state = MemoryState({(USAGE_NAMESPACE, "default:2026-06"): b"2"})
    result = check_golden(VENDOR, "monthly_limit", adapter(monthly_event_limit=3).handle_batch, state)
    assert result.response.status == 429
    # 2026-06-10T09:00:00Z to 2026-07-01T00:00:00Z
    assert result.response.headers == {"Retry-After": str(20 * 86400 + 15 * 3600)}
    assert result.traces is None
    assert result.state_writes == ()


def test_monthly_limit_reached_exactly_is_accepted() -> None:
    state = MemoryState({(USAGE_NAMESPACE, "default:2026-06"): b"2"})
    result = check_golden(VENDOR, "monthly_limit_within", adapter(monthly_event_limit=4).handle_batch, state)
    assert result.response.status == 200
    assert (USAGE_NAMESPACE, "default:2026-06", b"4") in [
        (write.namespace, write.key, write.value) for write in result.state_writes]


def test_monthly_limit_does_not_count_repeats() -> None:
    state = stored_after("documented_example")
    request, _ = load_case(VENDOR, "repeated_trace")
    result = adapter(monthly_event_limit=2).handle_batch(request, state)
    assert result.response.status == 200


def test_usage_is_counted_per_tenant_and_month() -> None:
    request, _ = load_case(VENDOR, "documented_example")
    december = AdapterRequest(**{**_fields(request), "tenant": "acme",
                                 "received_at_ns": 1_798_761_599_000_000_000})  # 2026-12-31T23:59:59Z
    state = MemoryState({(USAGE_NAMESPACE, "default:2026-12"): b"7"})
    result = adapter(monthly_event_limit=1).handle_batch(december, state)
    assert result.response.status == 429
    assert result.response.headers == {"Retry-After": "1"}
    assert result.response.body == {"detail": "monthly event limit of 1 events reached: 0 stored in 2026-12, "
                                               "this batch would add 2. Nothing was stored"}


def test_corrupt_usage_counter_counts_from_zero() -> None:
    request, _ = load_case(VENDOR, "documented_example")
    state = MemoryState({(USAGE_NAMESPACE, "default:2026-06"): b"\xffgarbage"})
    result = adapter(monthly_event_limit=10).handle_batch(request, state)
    assert result.response.status == 200
    assert (USAGE_NAMESPACE, "default:2026-06", b"2") in [
        (write.namespace, write.key, write.value) for write in result.state_writes]


def test_span_keys_expire_with_the_configured_ttl() -> None:
    request, _ = load_case(VENDOR, "documented_example")
    result = adapter(state_ttl=60.0).handle_batch(request, MemoryState())
    ttls = {write.namespace: write.ttl_s for write in result.state_writes}
    # Usage outlives its month (2026-06-10T09:00Z + 20 days 15 h) by 31 days; agents ~for ever.
    assert ttls == {SPANS_NAMESPACE: 60.0, USAGE_NAMESPACE: 20 * 86400 + 15 * 3600 + 31 * 86400.0,
                    AGENTS_NAMESPACE: AGENT_RECORD_TTL_S}


@pytest.mark.parametrize(("status", "code", "retry_after_s", "headers"), [
    (401, "unauthorized", None, {}),
    (413, "payload_too_large", None, {}),
    (429, "rate_limited", 30, {"Retry-After": "30"}),
    (503, "unavailable", 5, {"Retry-After": "5"}),
])
def test_error_response_shape(status: int, code: str, retry_after_s: int | None, headers: dict[str, str]) -> None:
    response = adapter().error_response(status, code, "the message", retry_after_s)
    assert (response.status, response.body, dict(response.headers)) == (status, {"detail": "the message"}, headers)


def _fields(request: AdapterRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in AdapterRequest.__slots__}
