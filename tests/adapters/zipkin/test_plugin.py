"""The Zipkin v2 adapter: golden files for the shapes contrib's zipkin receiver handles, and a
battery of wrong inputs that must each get a 400 `{"error": ...}`, never raise.

Regenerate the golden files with `SPANHOUSE_REGENERATE_GOLDEN=1 pytest tests/adapters`."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from spanhouse.adapters.zipkin.plugin import PLUGIN, ZipkinConfig, handle_spans
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from tests.adapters.golden import RECEIVED_AT_NS, TESTDATA, MemoryState, check_golden, load_case

CASES = sorted(path.name.removesuffix(".json") for path in (TESTDATA / "zipkin").glob("*.json")
               if not path.name.endswith(".expected.json"))


def post(body: Any) -> AdapterResult:
    request = AdapterRequest(method="POST", path="/api/v2/spans", path_params={}, query={},
                             headers={"content-type": "application/json"}, body=body, tenant="default",
                             received_at_ns=RECEIVED_AT_NS)
    return handle_spans(request, MemoryState())


def attributes(holder: Any) -> dict[str, Any]:
    return {pair.key: getattr(pair.value, pair.value.WhichOneof("value")) for pair in holder.attributes}


def span(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "5b4185666d50f68b",
                             "name": "get", "timestamp": 1781082921000000, "duration": 1000,
                             "localEndpoint": {"serviceName": "frontend"}}
    value.update(changes)
    return value


def nested(depth: int) -> dict[str, Any]:
    """Objects `depth` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    result = check_golden("zipkin", case, handle_spans)
    if result.response.status != 202:
        assert result.traces is None, "nothing of a rejected request may reach the pipeline"


def test_client_server_pair() -> None:
    request, _ = load_case("zipkin", "client_server_pair")
    result = handle_spans(request, MemoryState())
    assert (result.response.status, result.response.body) == (202, None)
    assert result.traces is not None
    services = [attributes(resource.resource)["service.name"] for resource in result.traces.resource_spans]
    assert services == ["billing", "frontend"]  # contrib sorts by service name
    server = result.traces.resource_spans[0].scope_spans[0].spans[0]
    client = result.traces.resource_spans[1].scope_spans[0].spans[0]
    assert server.trace_id.hex() == client.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server.parent_span_id == client.span_id
    assert (client.kind, server.kind) == (3, 2)
    assert (client.start_time_unix_nano, client.end_time_unix_nano) == (1781082921000000000, 1781082921018250000)
    assert attributes(client) == {
        "http.method": "GET", "http.path": "/api/invoices/INV-2026-0611", "http.status_code": "200",
        "net.host.ip": "10.0.0.5", "peer.service": "billing", "net.peer.ip": "10.0.0.9", "net.peer.port": 8080}
    assert attributes(server)["net.peer.ip"] == "10.0.0.5"  # an IPv4-mapped address prints as IPv4, as in Go
    scope = result.traces.resource_spans[0].scope_spans[0].scope
    assert (scope.name, scope.version) == ("io.opentelemetry.tomcat-10.0", "2.4.0")


def test_64_bit_trace_id_is_left_padded() -> None:
    result = post([span(traceId="5af7183fb1d4cf5f")])
    assert result.traces is not None
    assert result.traces.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() == "00000000000000005af7183fb1d4cf5f"


def test_empty_list_is_accepted_with_nothing_for_the_pipeline() -> None:
    result = post([])
    assert (result.response.status, result.response.body, result.traces) == (202, None, None)


@pytest.mark.parametrize(("tags", "code", "message"), [
    ({"error": "true"}, 2, ""),
    ({"error": "timeout"}, 2, "timeout"),
    ({"error": "false"}, 0, ""),
    ({"otel.status_code": "STATUS_CODE_OK"}, 1, ""),
    ({"otel.status_code": "ERROR", "otel.status_description": "declined"}, 2, "declined"),
    ({"otel.status_code": "OK", "error": "true"}, 2, ""),
])
def test_status(tags: dict[str, str], code: int, message: str) -> None:
    result = post([span(tags=tags)])
    assert result.traces is not None
    status = result.traces.resource_spans[0].scope_spans[0].spans[0].status
    assert (status.code, status.message) == (code, message)


def test_lenient_where_zipkin_clients_differ() -> None:
    result = post([span(timestamp=1781082921000000.5, tags={"retries": 3, "cached": False, "ratio": 0.5})])
    assert result.response.status == 202
    assert result.traces is not None
    out = result.traces.resource_spans[0].scope_spans[0].spans[0]
    assert out.start_time_unix_nano == 1781082921000000500
    assert attributes(out) == {"retries": "3", "cached": "false", "ratio": "0.5"}


def test_error_response_and_plugin() -> None:
    adapter = PLUGIN.create(ZipkinConfig())
    assert adapter.error_response(415, "unsupported_media_type", "send application/json").body == \
        {"error": "send application/json"}
    assert ZipkinConfig().endpoint == "127.0.0.1:9411"
    assert [(route.method, route.path) for route in adapter.routes] == [("POST", "/api/v2/spans")]


# Every entry is wrong; the text is what the error message must contain.
BAD_INPUTS: list[tuple[str, Any, str]] = [
    ("empty body", None, "expected a JSON list"),
    ("object body", span(), "expected a JSON list of Zipkin v2 spans, got an object"),
    ("string body", "[]", "expected a JSON list"),
    ("number body", 2**70, "expected a JSON list"),
    ("span a number", [1], "spans[0]: expected a span object"),
    ("span null", [span(), None], "spans[1]: expected a span object"),
    ("span a list", [[span()]], "spans[0]: expected a span object"),
    ("empty span", [{}], "spans[0].traceId: required"),
    ("null everywhere", [{key: None for key in ("traceId", "id", "parentId", "name", "kind", "timestamp",
                                                "duration", "localEndpoint", "remoteEndpoint", "annotations",
                                                "tags", "shared", "debug")}], "spans[0].traceId: required"),
    ("missing id", [span(id=None)], "spans[0].id: required"),
    ("empty id", [span(id="")], "spans[0].id: required"),
    ("zero trace id", [span(traceId="0" * 32)], "spans[0].traceId: required"),
    ("zero span id", [span(id="0000000000000000")], "spans[0].id: required"),
    ("trace id of 33 digits", [span(traceId="a" * 33)], "spans[0].traceId: expected 1 to 32 hex digits"),
    ("span id of 17 digits", [span(id="a" * 17)], "spans[0].id: expected 1 to 16 hex digits"),
    ("non-hex trace id", [span(traceId="xyz")], "spans[0].traceId: expected 1 to 32 hex digits"),
    ("0x prefix", [span(id="0x5b4185666d50f6")], "spans[0].id"),
    ("trace id a number", [span(traceId=1234)], "spans[0].traceId"),
    ("huge number trace id", [span(traceId=2**70)], "spans[0].traceId"),
    ("Arabic-Indic digits in the id", [span(id="١٢٣٤")], "spans[0].id: expected 1 to 16 hex digits"),
    ("full-width digits in the trace id", [span(traceId="\uff11\uff12\uff13\uff14")], "spans[0].traceId"),
    ("lone surrogate in the id", [span(id="\ud800")], "spans[0].id"),
    ("bad parent id", [span(parentId="parent")], "spans[0].parentId"),
    ("name a number", [span(name=5)], "spans[0].name: expected a string"),
    ("kind a list", [span(kind=["CLIENT"])], "spans[0].kind: expected a string"),
    ("timestamp a string", [span(timestamp="1781082921000000")], "spans[0].timestamp"),
    ("negative timestamp", [span(timestamp=-1)], "spans[0].timestamp"),
    ("huge integer timestamp", [span(timestamp=2**70)], "spans[0].timestamp"),
    ("infinite timestamp (1e400)", [span(timestamp=float("inf"))], "spans[0].timestamp"),
    ("NaN duration", [span(duration=float("nan"))], "spans[0].duration"),
    ("negative duration", [span(duration=-5)], "spans[0].duration"),
    ("boolean duration", [span(duration=True)], "spans[0].duration"),
    ("shared a string", [span(shared="yes")], "spans[0].shared: expected true or false"),
    ("debug a number", [span(debug=1)], "spans[0].debug: expected true or false"),
    ("local endpoint a list", [span(localEndpoint=[])], "spans[0].localEndpoint: expected an object"),
    ("service name a number", [span(localEndpoint={"serviceName": 1})], "spans[0].localEndpoint.serviceName"),
    ("bad ipv4", [span(remoteEndpoint={"ipv4": "999.1.1.1"})], "spans[0].remoteEndpoint.ipv4"),
    ("ipv6 a number", [span(remoteEndpoint={"ipv6": 1})], "spans[0].remoteEndpoint.ipv6"),
    ("port a string", [span(localEndpoint={"port": "80"})], "spans[0].localEndpoint.port"),
    ("huge port", [span(localEndpoint={"port": 2**70})], "spans[0].localEndpoint.port"),
    ("annotations an object", [span(annotations={"value": "ws"})], "spans[0].annotations: expected an array"),
    ("annotation a string", [span(annotations=["ws"])], "spans[0].annotations[0]: expected an object"),
    ("annotation timestamp a string", [span(annotations=[{"timestamp": "1", "value": "ws"}])],
     "spans[0].annotations[0].timestamp"),
    ("annotation value a number", [span(annotations=[{"timestamp": 1, "value": 1}])],
     "spans[0].annotations[0].value"),
    ("tags a list", [span(tags=["a"])], "spans[0].tags: expected an object"),
    ("tag an object", [span(tags={"a": {"b": "c"}})], "spans[0].tags.a: expected a string"),
    ("tag an array", [span(tags={"a": ["b"]})], "spans[0].tags.a: expected a string"),
    ("tag infinite", [span(tags={"a": float("inf")})], "spans[0].tags.a: expected a string"),
    ("deep tag value (5000 levels)", [span(tags={"deep": nested(5000)})], "spans[0].tags.deep"),
    ("one bad span among good ones", [span(), span(id="5b4185666d50f68c"), span(id="nope")], "spans[2].id"),
]


@pytest.mark.parametrize(("body", "expected"), [(body, expected) for _, body, expected in BAD_INPUTS],
                         ids=[name for name, _, _ in BAD_INPUTS])
def test_wrong_inputs_get_a_400(body: Any, expected: str) -> None:
    result = post(body)
    assert result.response.status == 400
    assert result.traces is None
    assert set(result.response.body) == {"error"}
    assert expected in result.response.body["error"], result.response.body
    orjson.dumps(result.response.body)  # what the receiver will send must serialise
