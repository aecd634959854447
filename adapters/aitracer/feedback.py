"""`POST /api/ingest/feedback`: a thumbs up or down (with an optional score and comment) on a
trace. Feedback is not a span: it is a row of the `otel_trace_feedback` side table, keyed by
tenant, trace and source, where the latest row wins on read. Nothing refers to the spans, so
feedback may arrive before or after its trace."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from spanhouse.adapters.aitracer.common import (
    InvalidRequestError,
    check_storable,
    error_response,
    link_trace_id,
    pick,
    require_object,
    text,
)
from spanhouse.adapters.common.attributes import to_json
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResponse, Services
from spanhouse.collector.core.storage import FEEDBACK_TABLE, NoStorageError

logger = logging.getLogger(__name__)

SOURCE: Final = "aitracer_feedback"
COLUMNS: Final = ("TenantId", "TraceId", "Source", "Rating", "Score", "Comment", "Success", "Outcome", "Payload",
                  "UpdatedAt")
POSITIVE: Final = frozenset({"up", "thumbs_up", "thumbsup", "positive", "good", "like", "+1", "1", "👍"})
NEGATIVE: Final = frozenset({"down", "thumbs_down", "thumbsdown", "negative", "bad", "dislike", "-1", "👎"})
MAX_COMMENT_CHARS: Final = 10_000
# Kinds of store failure already logged: each is logged once, then only answered (503).
_logged_failures: set[str] = set()


@dataclass(frozen=True, slots=True)
class Feedback:
    trace_id: str  # as sent
    rating: int  # 1 up, -1 down
    score: float | None
    comment: str


def _rating(fields: Mapping[str, Any]) -> int:
    name, value = pick(fields, "rating", "thumbs", "value", "thumbsUp", "thumbs_up")
    if value is None:
        raise InvalidRequestError('body.rating: field required ("up" or "down")')
    if name in ("thumbsUp", "thumbs_up") or isinstance(value, bool):
        if not isinstance(value, bool):
            raise InvalidRequestError(f"body.{name}: expected a boolean, got {describe(value)}")
        return 1 if value else -1
    if isinstance(value, int | float) and value in (1, -1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in POSITIVE:
        return 1
    if isinstance(value, str) and value.strip().lower() in NEGATIVE:
        return -1
    shown = quote(value) if isinstance(value, str) else describe(value)
    raise InvalidRequestError(f'body.{name}: "{shown}" is not a rating: send "up" or "down" (or 1 / -1)')


def validate_feedback(body: Any) -> Feedback:
    fields = require_object(body, "body")
    trace_id = text(fields, "body", "traceId", "trace_id", "requestId", required=True)
    assert trace_id is not None
    if len(trace_id) > 256:
        raise InvalidRequestError(f'body.traceId: "{quote(trace_id)}" is longer than 256 characters')
    rating = _rating(fields)
    _, score = pick(fields, "score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not math.isfinite(score)):
        raise InvalidRequestError(f"body.score: expected a finite number, got {describe(score)}")
    comment = text(fields, "body", "comment") or ""
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidRequestError(f"body.comment: at most {MAX_COMMENT_CHARS} characters")
    check_storable(fields, "body")
    return Feedback(trace_id.strip(), rating, float(score) if score is not None else None, comment)


def feedback_row(tenant: str, feedback: Feedback, body: Any, received_at_ns: int) -> list[Any]:
    """One row of the side table, in COLUMNS order. TraceId is the OTLP trace id (hex), as in
    otel_traces, so the two join; the id as sent is kept in Payload."""
    return [tenant, link_trace_id(feedback.trace_id).hex(), SOURCE, feedback.rating, feedback.score,
            feedback.comment, None, "", to_json(body), received_at_ns]


def columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [[row[index] for row in rows] for index in range(len(COLUMNS))]


async def handle_feedback(request: AdapterRequest, raw: bytes, services: Services) -> AdapterResponse:
    try:
        feedback = validate_feedback(request.body)
    except InvalidRequestError as error:
        return error_response(400, "invalid_request", str(error))
    try:
        storage = services.storage()
    except NoStorageError:
        return error_response(503, "unavailable", "feedback needs a clickhouse exporter in this receiver's pipeline",
                              retry_after_s=None)
    row = feedback_row(request.tenant, feedback, request.body, request.received_at_ns)
    try:
        await asyncio.to_thread(storage.insert_rows, FEEDBACK_TABLE, COLUMNS, columns_of([row]))
    except Exception as error:
        # The store refused or is unreachable: the sender may retry (the latest row wins).
        if type(error).__name__ not in _logged_failures:
            _logged_failures.add(type(error).__name__)
            logger.warning("aitracer feedback not stored: %s", error)
        return error_response(503, "unavailable", "feedback could not be stored now; retry later", retry_after_s=5)
    return AdapterResponse(200, {"feedback": {"traceId": feedback.trace_id, "rating": "up" if feedback.rating > 0
                                              else "down", "score": feedback.score, "comment": feedback.comment}})
