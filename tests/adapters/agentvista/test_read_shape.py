"""Stored rows in AgentVista's read shape (adapters/agentvista/read_shape.py), for the cases the
end-to-end tests do not reach: an AgentVista header among other spans, parents not stored,
OpenInference span kinds, a root that has not arrived."""

from __future__ import annotations

from typing import Any

from spanhouse.adapters.agentvista.read_shape import trace_header, vendor_spans
from spanhouse.adapters.agentvista.spans import SCOPE_NAME

TRACE_HEX = "550e8400e29b41d4a716446655440000"
BASE_NS = 1_705_312_800_000_000_000


def row(span_id: str, parent: str = "", scope: str = "app", status: str = "Unset", start_ms: int = 0,
        duration_ms: int = 10, **attributes: str) -> dict[str, Any]:
    return {"trace_id": TRACE_HEX, "span_id": span_id, "parent_span_id": parent, "name": f"span {span_id}",
            "scope_name": scope, "status_code": status, "status_message": "boom" if status == "Error" else "",
            "start_ns": BASE_NS + start_ms * 1_000_000, "duration_ns": duration_ms * 1_000_000,
            "service_name": "svc", "attributes": attributes, "resource_attributes": {"service.name": "svc"}}


SUMMARY = {"agent_name": "svc", "total_tokens": 0, "total_cost_usd": 0.0, "has_usage": 0}


def test_the_agentvista_header_is_not_a_span_and_parents_map_to_vendor_ids() -> None:
    header = row("aaaaaaaaaaaaaaaa", scope=SCOPE_NAME, **{"agentvista.trace_id": "x", "agentvista.status": "running"})
    vendor = row("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", SCOPE_NAME, start_ms=1,
                 **{"agentvista.span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "agentvista.type": "tool"})
    child = row("cccccccccccccccc", "bbbbbbbbbbbbbbbb", SCOPE_NAME, start_ms=2,
                **{"agentvista.span_id": "7ba7b810-9dad-11d1-80b4-00c04fd430c8",
                   "agentvista.parent_span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"})
    orphan = row("dddddddddddddddd", "eeeeeeeeeeeeeeee", SCOPE_NAME, start_ms=3,
                 **{"agentvista.span_id": "8ba7b810-9dad-11d1-80b4-00c04fd430c8",
                    "agentvista.parent_span_id": "9ba7b810-9dad-11d1-80b4-00c04fd430c8"})
    otlp_child = row("ffffffffffffffff", "bbbbbbbbbbbbbbbb", start_ms=4, **{"openinference.span.kind": "RETRIEVER"})
    spans = vendor_spans([header, vendor, child, orphan, otlp_child])
    assert [(span["span_id"], span["parent_span_id"], span["type"]) for span in spans] == [
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", None, "tool"),
        ("7ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "span"),
        # Its parent was never stored: AgentVista's own id of it.
        ("8ba7b810-9dad-11d1-80b4-00c04fd430c8", "9ba7b810-9dad-11d1-80b4-00c04fd430c8", "span"),
        # An OTLP span under an AgentVista span points at the vendor id.
        ("ffffffffffffffff", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "retriever"),
    ]


def test_header_from_a_trace_whose_root_has_not_arrived() -> None:
    first = row("1111111111111111", "9999999999999999", status="Error", start_ms=5, duration_ms=20)
    second = row("2222222222222222", "1111111111111111", start_ms=6)
    header = trace_header([first, second], SUMMARY, None, "default")
    assert (header["status"], header["error_message"], header["started_at"], header["duration_ms"]) == (
        "failed", "boom", "2024-01-15T10:00:00.005000Z", 20.0)
    assert (header["total_tokens"], header["total_cost_usd"], header["success"]) == (None, None, None)
    assert header["metadata"] == {"service.name": "svc"}


def test_a_recorded_outcome_overrides_the_declared_one() -> None:
    root = row("1111111111111111", scope=SCOPE_NAME, **{"agentvista.trace_id": "x", "agentvista.success": "true",
                                                        "agentvista.outcome": "qualified",
                                                        "agentvista.metadata": '{"k": 1}'})
    assert trace_header([root], SUMMARY, None, "t")[("success")] is True
    header = trace_header([root], SUMMARY, {"success": False, "outcome": None}, "t")
    assert (header["success"], header["outcome"], header["metadata"]) == (False, None, {"k": 1})


def test_an_agentvista_span_sent_without_a_status_reads_back_without_one() -> None:
    # Stored Unset (no status sent): the read API must not report the `completed` it never sent.
    header = row("aaaaaaaaaaaaaaaa", scope=SCOPE_NAME, **{"agentvista.trace_id": "x"})
    vendor = row("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", SCOPE_NAME, start_ms=1,
                 **{"agentvista.trace_id": "x", "agentvista.span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"})
    sent = row("cccccccccccccccc", "aaaaaaaaaaaaaaaa", SCOPE_NAME, status="Ok", start_ms=2,
               **{"agentvista.trace_id": "x", "agentvista.span_id": "7ba7b810-9dad-11d1-80b4-00c04fd430c8",
                  "agentvista.status": "completed"})
    otlp = row("dddddddddddddddd", "bbbbbbbbbbbbbbbb", start_ms=3)
    assert trace_header([header, vendor, sent, otlp], SUMMARY, None, "default")["status"] is None
    assert [span["status"] for span in vendor_spans([header, vendor, sent, otlp])] == [None, "completed",
                                                                                       "completed"]
