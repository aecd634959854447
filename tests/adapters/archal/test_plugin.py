"""Golden cases for the Archal adapter (testdata/archal/), idempotent session replay, preflight,
the documented error bodies and the adapter's config.

Regenerate the golden files after an intended mapping change with
    SPANHOUSE_REGENERATE_GOLDEN=1 pytest tests/adapters/archal/test_plugin.py
and review the diff of testdata/archal/."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from spanhouse.adapters.archal.plugin import PLUGIN, ArchalAdapter, ArchalConfig
from spanhouse.adapters.archal.sessions import SESSIONS_NAMESPACE
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult, StateView
from spanhouse.collector.core.component import span_count
from spanhouse.collector.receivers.adapter.config import receiver_config_class
from tests.adapters.golden import TESTDATA, MemoryState, check_golden, load_case

CASES = sorted(path.name.removesuffix(".json") for path in (TESTDATA / "archal").glob("*.json")
               if not path.name.endswith(".expected.json"))


def adapter(**overrides: Any) -> ArchalAdapter:
    return ArchalAdapter(dataclasses.replace(ArchalConfig(), **overrides))


def route_handler(archal: ArchalAdapter) -> Any:
    """Dispatches a golden case to the route its `_request.path` names, as the receiver would."""
    handlers = {route.path: route.handle for route in archal.routes}

    def handle(request: AdapterRequest, state: StateView) -> AdapterResult:
        return handlers[request.path](request, state)

    return handle


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    check_golden("archal", case, route_handler(adapter()))


def test_every_kind_of_case_is_covered() -> None:
    assert len(CASES) >= 20
    for prefix in ("session_doc_example", "session_error_", "traces_otlp", "traces_span_list", "traces_opaque"):
        assert any(case.startswith(prefix) for case in CASES), prefix


def test_idempotent_replay_returns_the_same_session_and_records_nothing() -> None:
    state = MemoryState()
    handle = route_handler(adapter())
    first = check_golden("archal", "session_idempotency_key", handle, state)
    assert first.traces is not None and span_count(first.traces) == 1
    [write] = first.state_writes
    assert (write.namespace, write.key) == (SESSIONS_NAMESPACE, "default:ci-run-4821-attempt")
    assert orjson.loads(write.value) == first.response.body
    state.apply(first)

    request, _ = load_case("archal", "session_idempotency_key")
    later = dataclasses.replace(request, received_at_ns=request.received_at_ns + 90 * 10**9)
    second = handle(later, state)
    assert second.response.status == first.response.status == 200
    assert second.response.body == first.response.body  # createdAt too: the same session
    assert second.traces is None
    assert second.state_writes == ()


def test_idempotency_keys_are_per_tenant() -> None:
    state = MemoryState()
    handle = route_handler(adapter())
    request, _ = load_case("archal", "session_idempotency_key")
    first = handle(request, state)
    state.apply(first)
    other = handle(dataclasses.replace(request, tenant="other-team"), state)
    assert other.traces is not None
    assert other.response.body["sessionId"] != first.response.body["sessionId"]


def test_without_a_key_sessions_differ_by_time_and_are_not_stored() -> None:
    handle = route_handler(adapter())
    request, _ = load_case("archal", "session_clones_example")
    first = handle(request, MemoryState())
    second = handle(dataclasses.replace(request, received_at_ns=request.received_at_ns + 1), MemoryState())
    assert first.response.body["sessionId"] != second.response.body["sessionId"]
    assert first.state_writes == second.state_writes == ()
    # ...and the same request at the same instant is the same session (no randomness).
    assert handle(request, MemoryState()).response.body == first.response.body


def test_preflight_validates_and_records_nothing() -> None:
    state = MemoryState()
    result = route_handler(adapter())(load_case("archal", "session_doc_example")[0], state)
    assert result.response.status == 200
    body = result.response.body
    # One of the statuses the page lists (starting, running, ended, failed): nothing runs.
    assert body["status"] == "ended" and body["status"] in ("starting", "running", "ended", "failed")
    assert body["alive"] is False and body["preflightOnly"] is True
    assert body["endedAt"] == body["createdAt"]
    assert result.traces is None and result.state_writes == ()


def test_preflight_still_refuses_an_invalid_request() -> None:
    request, _ = load_case("archal", "session_doc_example")
    body = dict(request.body, ttlSeconds=0)
    result = route_handler(adapter())(dataclasses.replace(request, body=body), MemoryState())
    assert result.response.status == 400
    assert result.response.body["detail"] == "ttlSeconds: must be an integer from 1 to 86400, got a number"


def test_session_response_has_every_documented_field() -> None:
    result = route_handler(adapter())(load_case("archal", "session_idempotency_key")[0], MemoryState())
    body = result.response.body
    required = {"sessionId", "status", "cloneIds", "endpoints", "apiBaseUrls", "createdAt", "expiresAt"}
    optional = {"alive", "mcp", "resolvedSeeds", "evidence", "runtimeProvider", "scenarioId", "batchId",
                "batchSuiteName", "endedAt", "lastError"}
    assert required | optional <= set(body)
    assert body["cloneIds"] == ["github", "slack"]
    assert body["apiBaseUrls"]["slack"] == f"http://127.0.0.1:4410/runtime/{body['sessionId']}/slack/api"
    assert (body["createdAt"], body["expiresAt"]) == ("2026-06-10T09:00:00.000Z", "2026-06-10T10:00:00.000Z")


def test_runtime_base_url_builds_the_endpoints() -> None:
    handle = route_handler(adapter(runtime_base_url="https://clones.example.test/"))
    body = handle(load_case("archal", "session_clones_example")[0], MemoryState()).response.body
    assert body["endpoints"] == {"github": f"https://clones.example.test/runtime/{body['sessionId']}/github"}


def test_credentials_are_redacted_in_the_span() -> None:
    result = route_handler(adapter())(load_case("archal", "session_idempotency_key")[0], MemoryState())
    assert result.traces is not None
    text = result.traces.SerializeToString()
    assert b"ghp_secret_value" not in text
    assert b"archal.session.credential.github.token" in text


@pytest.mark.parametrize(("status", "code", "title", "message"), [
    (400, "bad_request", "Bad Request", "Request is malformed or failed validation."),
    (401, "unauthorized", "Unauthorized", "Missing, invalid, or expired Archal token."),
    (413, "payload_too_large", "Payload Too Large", "Request body is larger than this endpoint accepts."),
    (415, "unsupported_media_type", "Unsupported Media Type", "Request body must be application/json."),
    (429, "rate_limited", "Too Many Requests", "Rate limit exceeded."),
    (503, "unavailable", "Service Unavailable", "Required backing service is unavailable."),
])
def test_error_response_is_the_documented_shape(status: int, code: str, title: str, message: str) -> None:
    response = adapter().error_response(status, code, "what went wrong")
    assert response.status == status
    assert response.body == {"error": title, "code": code, "message": message, "detail": "what went wrong"}
    assert dict(response.headers) == {}


def test_retry_after_is_a_header() -> None:
    response = adapter().error_response(503, "unavailable", "ClickHouse is unreachable", retry_after_s=5)
    assert dict(response.headers) == {"Retry-After": "5"}
    assert response.body["detail"] == "ClickHouse is unreachable"


def test_plugin_and_config() -> None:
    assert PLUGIN.name == "archal"
    assert PLUGIN.config_class is ArchalConfig
    config = ArchalConfig()
    assert config.endpoint == "127.0.0.1:4410"
    assert config.validate() == []
    assert ArchalConfig(runtime_base_url="ftp://x").validate() == [
        ("runtime_base_url", 'must start with "http://" or "https://"')]
    assert receiver_config_class(ArchalConfig)(max_request_body_size=0).validate() == [
        ("max_request_body_size", "must be greater than 0")]
    routes = {(route.method, route.path) for route in PLUGIN.create(config).routes}
    assert routes == {("POST", "/api/traces"), ("POST", "/api/sessions")}


def test_seeds_of_any_json_values_are_taken() -> None:
    # The page types `seeds` only as `object`: values that are objects (or numbers, null) are
    # taken and echoed, and the span flattens them like the other object fields.
    request, _ = load_case("archal", "session_doc_example")
    seeds = {"github": {"repo": "small-repo", "branches": 2}, "slack": None, "count": 3}
    body = dict(request.body, seeds=seeds, preflightOnly=False)
    result = route_handler(adapter())(dataclasses.replace(request, body=body), MemoryState())
    assert result.response.status == 200, result.response.body
    assert result.response.body["resolvedSeeds"] == seeds
    assert result.traces is not None
    attributes = {item.key: item.value for item in result.traces.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert attributes["archal.session.seeds.github.repo"].string_value == "small-repo"
    assert attributes["archal.session.seeds.github.branches"].int_value == 2
