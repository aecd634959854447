"""Golden files for adapters: an input body `testdata/<vendor>/<case>.json` (with optional
`"_request": {"method", "path", "headers", "query", "tenant", "received_at_ns"}` beside `"body"`)
and, next to it, `<case>.expected.json` holding the response and the OTLP/JSON of the spans.

Regenerate after an intended mapping change with:
    SPANHOUSE_REGENERATE_GOLDEN=1 pytest tests/adapters
then review the diff of testdata/ like any other code change."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult, StateView
from spanhouse.proto.otlp_json import decode_traces, encode_traces

TESTDATA = Path(__file__).parent / "testdata"
REGENERATE = os.environ.get("SPANHOUSE_REGENERATE_GOLDEN") == "1"
RECEIVED_AT_NS = 1_781_082_000_000_000_000  # 2026-06-10T09:00:00Z, the fixed clock of golden cases


class MemoryState:
    """The receiver's state store, in memory, for adapter tests."""

    def __init__(self, data: Mapping[tuple[str, str], bytes] | None = None) -> None:
        self.data: dict[tuple[str, str], bytes] = dict(data or {})

    def get(self, namespace: str, key: str) -> bytes | None:
        return self.data.get((namespace, key))

    def get_many(self, namespace: str, keys: Any) -> dict[str, bytes]:
        return {key: self.data[(namespace, key)] for key in keys if (namespace, key) in self.data}

    def apply(self, result: AdapterResult) -> None:
        for write in result.state_writes:
            self.data[(write.namespace, write.key)] = write.value


def load_case(vendor: str, case: str) -> tuple[AdapterRequest, Path]:
    path = TESTDATA / vendor / f"{case}.json"
    document = orjson.loads(path.read_bytes())
    meta = document.get("_request", {})
    request = AdapterRequest(
        method=meta.get("method", "POST"), path=meta["path"], path_params=meta.get("path_params", {}),
        query=meta.get("query", {}), headers={key.lower(): value for key, value in meta.get("headers", {}).items()},
        body=document.get("body"), tenant=meta.get("tenant", "default"),
        received_at_ns=meta.get("received_at_ns", RECEIVED_AT_NS))
    return request, path.with_name(f"{case}.expected.json")


def result_document(result: AdapterResult) -> dict[str, Any]:
    traces = orjson.loads(encode_traces(result.traces)) if result.traces is not None else None
    return {"status": result.response.status, "response": result.response.body,
            "headers": dict(result.response.headers), "otlp": traces,
            "state_writes": [[write.namespace, write.key, write.value.decode("utf-8", "replace"), write.ttl_s]
                             for write in result.state_writes]}


def check_golden(vendor: str, case: str, handle: Any, state: StateView | None = None) -> AdapterResult:
    """Runs `handle(request, state)` on the case and compares with (or rewrites) the golden file."""
    request, expected_path = load_case(vendor, case)
    result: AdapterResult = handle(request, state if state is not None else MemoryState())
    actual = result_document(result)
    if REGENERATE:
        expected_path.write_bytes(orjson.dumps(actual, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    assert expected_path.exists(), f"{expected_path} is missing; create it with SPANHOUSE_REGENERATE_GOLDEN=1"
    expected = orjson.loads(expected_path.read_bytes())
    assert actual == expected, f"{expected_path.name} differs; regenerate with SPANHOUSE_REGENERATE_GOLDEN=1"
    if result.traces is not None:
        # The golden OTLP/JSON is itself valid OTLP: it decodes back to the same spans.
        assert decode_traces(encode_traces(result.traces)) == result.traces
    return result
