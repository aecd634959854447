"""Archal's `POST /api/sessions`: the body checked against the documented CreateSessionRequest
schema, the session recorded as a span and answered as the documented SessionSummary."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.adapters.archal.errors import bad_request
from spanhouse.adapters.archal.json_values import digest, dump_json, find_problem, widen_to_strings
from spanhouse.adapters.archal.traces import SCOPE_NAME
from spanhouse.adapters.common.attributes import new_traces, put, put_flattened
from spanhouse.adapters.common.ids import derived_span_id, trace_id_from
from spanhouse.adapters.common.messages import describe
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, AdapterResult, StateView, StateWrite
from spanhouse.collector.core.component import Traces

SESSIONS_NAMESPACE: Final = "archal.sessions"
IDEMPOTENCY_HEADER: Final = "idempotency-key"  # AdapterRequest lowercases header names
MAX_IDEMPOTENCY_KEY_CHARS: Final = 200
# The schema gives ttlSeconds no default; 12 hours is the value of the page's example request.
DEFAULT_TTL_S: Final = 43_200
DEFAULT_TRANSPORT: Final = "cloud"
DEFAULT_SCENARIO_RUN_COUNT: Final = 1
INTEGER_RANGES: Final = {"ttlSeconds": (1, 86_400), "scenarioRunCount": (1, 1_000), "rateLimit": (1, 100_000)}
STRING_FIELDS: Final = ("scenarioId", "transport")
OBJECT_FIELDS: Final = ("routing", "seeds", "source", "credential", "runConfig", "scenarioDraft", "runProject")
# In the documented order; CreateSessionRequest has additionalProperties: false.
KNOWN_FIELDS: Final = ("clones", "scenarioId", "preflightOnly", "transport", "ttlSeconds", "scenarioRunCount",
                       "rateLimit", "routing", "seeds", "source", "credential", "runConfig", "scenarioDraft",
                       "runProject")
# Enough to fix a request; a body of a thousand unknown keys does not get a thousand-line answer.
MAX_PROBLEMS_SHOWN: Final = 10
REDACTED: Final = "[redacted]"
# A preflight provisions nothing; of the page's statuses (starting, running, ended, failed) it is ended.
PREFLIGHT_STATUS: Final = "ended"
NANOS_PER_SECOND: Final = 1_000_000_000

Problem = tuple[str, str]  # (field path, what is wrong)
# Archal's messages show a boolean as sent (`got true`), other values by their JSON type.
_describe: Final = functools.partial(describe, literal_booleans=True)


def handle_sessions(request: AdapterRequest, state: StateView, runtime_base_url: str) -> AdapterResult:
    problems = validate_session_request(request.body, request.headers)
    if problems:
        return AdapterResult(bad_request(render_problems(problems)))
    body: dict[str, Any] = request.body
    key = request.headers.get(IDEMPOTENCY_HEADER) or None  # an empty header is no key
    if body.get("preflightOnly") is True:
        session_id = _session_id(request, key)
        return AdapterResult(AdapterResponse(status=200, body=_preflight_session(session_id, body, request)))
    state_key = f"{request.tenant}:{key}" if key is not None else ""
    if key is not None:
        previous = _stored_session(state.get(SESSIONS_NAMESPACE, state_key))
        if previous is not None:
            # The same key from the same tenant: the same session again, and nothing new recorded.
            return AdapterResult(AdapterResponse(status=200, body=previous))
    session_id = _session_id(request, key)
    ttl_s = _integer(body.get("ttlSeconds"), DEFAULT_TTL_S)
    session = _session(session_id, body, request.received_at_ns, ttl_s, runtime_base_url)
    traces = _session_span(session, body, key, request.received_at_ns)
    writes = (StateWrite(SESSIONS_NAMESPACE, state_key, orjson.dumps(session), ttl_s=float(ttl_s)),) \
        if key is not None else ()
    return AdapterResult(AdapterResponse(status=200, body=session), traces=traces, state_writes=writes)


def validate_session_request(body: Any, headers: Mapping[str, str]) -> list[Problem]:
    """Every way `body` and the Idempotency-Key header break the documented schema."""
    problems: list[Problem] = []
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        problems.append(("Idempotency-Key", f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters, "
                                            f"got {len(key)}"))
    if not isinstance(body, dict):
        shown = "an empty body" if body is None else _describe(body)
        return [("body", f"must be a JSON object (CreateSessionRequest), got {shown}"), *problems]
    problems.extend((name, "is not a field of CreateSessionRequest") for name in body if name not in KNOWN_FIELDS)
    problems.extend(_clone_problems(body))
    for name in STRING_FIELDS:
        if name in body and not isinstance(body[name], str):
            problems.append((name, f"must be a string, got {_describe(body[name])}"))
    if "preflightOnly" in body and not isinstance(body["preflightOnly"], bool):
        problems.append(("preflightOnly", f"must be true or false, got {_describe(body['preflightOnly'])}"))
    for name, (low, high) in INTEGER_RANGES.items():
        if name in body and not _is_integer_in(body[name], low, high):
            problems.append((name, f"must be an integer from {low} to {high}, got {_describe(body[name])}"))
    for name in OBJECT_FIELDS:
        if name in body and not isinstance(body[name], dict):
            problems.append((name, f"must be an object, got {_describe(body[name])}"))
    # Depth, Unicode and number checks over everything, for the fields not already refused.
    found = find_problem(body)
    if found is not None and not any(_within(found[0], field) for field, _ in problems):
        problems.append(found)
    return problems


def _within(path: str, field: str) -> bool:
    return path == field or path.startswith((f"{field}.", f"{field}["))


def render_problems(problems: list[Problem]) -> str:
    shown = "; ".join(f"{field}: {problem}" for field, problem in problems[:MAX_PROBLEMS_SHOWN])
    hidden = len(problems) - MAX_PROBLEMS_SHOWN
    return shown + (f"; and {hidden} more" if hidden > 0 else "")


def _clone_problems(body: dict[str, Any]) -> list[Problem]:
    if "clones" not in body:
        return [("clones", "is required (a non-empty array of clone ids, e.g. [\"github\"])")]
    clones = body["clones"]
    if not isinstance(clones, list):
        return [("clones", f"must be an array of strings, got {_describe(clones)}")]
    if not clones:
        return [("clones", "must contain at least 1 item")]
    return [(f"clones[{index}]", f"must be a string, got {_describe(item)}")
            for index, item in enumerate(clones) if not isinstance(item, str)]


def _is_integer_in(value: Any, low: int, high: int) -> bool:
    # JSON Schema's integer: any number with a zero fractional part (5.0 too), never a boolean.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not value.is_integer():  # also refuses NaN and infinities
        return False
    return low <= value <= high


def _integer(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _session_id(request: AdapterRequest, key: str | None) -> str:
    """Deterministic, since adapters have no randomness: from tenant and Idempotency-Key, else
    from tenant, arrival time and body. Shaped like Archal's ids (`env_12345`)."""
    if key is not None:
        hashed = digest("archal.session", request.tenant, "key", key)
    else:
        hashed = digest("archal.session", request.tenant, str(request.received_at_ns),
                        dump_json(request.body, sort_keys=True))
    return "env_" + hashed[:24]


def _session(session_id: str, body: dict[str, Any], received_at_ns: int, ttl_s: int,
             runtime_base_url: str) -> dict[str, Any]:
    clones: list[str] = body["clones"]
    base = runtime_base_url.rstrip("/")
    # Archal's runtime proxy serves a clone's API at /runtime/{sessionId}/{cloneId}/api/{path}.
    endpoints = {clone: f"{base}/runtime/{quote(session_id, safe='')}/{quote(clone, safe='')}" for clone in clones}
    return {
        "sessionId": session_id,
        "status": "running",
        "alive": True,
        "cloneIds": clones,
        "endpoints": endpoints,
        "apiBaseUrls": {clone: f"{url}/api" for clone, url in endpoints.items()},
        "mcp": {},
        "resolvedSeeds": body.get("seeds", {}),
        "evidence": {},
        "runtimeProvider": "spanhouse",
        "scenarioId": body.get("scenarioId"),
        "batchId": None,
        "batchSuiteName": None,
        "createdAt": _iso(received_at_ns),
        "expiresAt": _iso(received_at_ns + ttl_s * NANOS_PER_SECOND),
        "endedAt": None,
        "lastError": None,
    }


def _preflight_session(session_id: str, body: dict[str, Any], request: AdapterRequest) -> dict[str, Any]:
    """What a preflight answers: the request passed validation, and nothing was provisioned, so
    the session is not alive and has no endpoints. Its status is one the page lists: `ended` (it
    ended as it was checked, endedAt = createdAt); `preflightOnly: true` tells it from a real one."""
    session = _session(session_id, body, request.received_at_ns, 0, "")
    session.update({"status": PREFLIGHT_STATUS, "alive": False, "endpoints": {}, "apiBaseUrls": {},
                    "endedAt": session["createdAt"], "preflightOnly": True})
    return session


def _stored_session(stored: bytes | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    try:
        session = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return None  # unreadable state: answer as for a new key, which rewrites it
    return session if isinstance(session, dict) else None


def _session_span(session: dict[str, Any], body: dict[str, Any], key: str | None, received_at_ns: int) -> Traces:
    traces, spans = new_traces("archal", scope_name=SCOPE_NAME)
    session_id: str = session["sessionId"]
    span = spans.add()
    span.trace_id = trace_id_from(session_id)
    span.span_id = derived_span_id("archal.session", session_id)
    span.name = "archal.session"
    span.kind = Span.SPAN_KIND_INTERNAL
    span.start_time_unix_nano = received_at_ns
    span.end_time_unix_nano = received_at_ns
    attributes = span.attributes
    put(attributes, "session.id", session_id)
    put(attributes, "gen_ai.conversation.id", session_id)
    put(attributes, "archal.session.status", session["status"])
    put(attributes, "archal.session.expiresAt", session["expiresAt"])
    put(attributes, "archal.session.idempotencyKey", key)
    put(attributes, "archal.session.clones", body["clones"])
    put(attributes, "archal.session.scenarioId", body.get("scenarioId"))
    put(attributes, "archal.session.preflightOnly", body.get("preflightOnly"))
    # The values the session runs with: sent, or the schema's defaults.
    put(attributes, "archal.session.transport", body.get("transport", DEFAULT_TRANSPORT))
    put(attributes, "archal.session.ttlSeconds", _integer(body.get("ttlSeconds"), DEFAULT_TTL_S))
    put(attributes, "archal.session.scenarioRunCount",
        _integer(body.get("scenarioRunCount"), DEFAULT_SCENARIO_RUN_COUNT))
    if "rateLimit" in body:
        put(attributes, "archal.session.rateLimit", int(body["rateLimit"]))
    for name in OBJECT_FIELDS:
        if name in body:
            # Credentials must not end up in a trace store readable by everyone who reads traces:
            # their shape is kept, every value redacted.
            value = _redacted(body[name]) if name == "credential" else widen_to_strings(body[name])
            put_flattened(attributes, f"archal.session.{name}", value)
    return traces


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return None if value is None else REDACTED


def _iso(unix_nanos: int) -> str:
    """RFC 3339 in UTC with milliseconds, as JavaScript's toISOString writes it."""
    seconds, nanos = divmod(unix_nanos, NANOS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos // 1_000_000:03d}Z"
