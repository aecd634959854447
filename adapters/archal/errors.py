"""Archal's documented error body, `ErrorResponse` (`error`, `code`, `message`, `detail`), for
every status the adapter or its receiver answers."""

from __future__ import annotations

from typing import Final

from spanhouse.collector.core.adapter_api import AdapterResponse

MAX_DETAIL_CHARS: Final = 2000
# `error` carries the status title and `message` the description the Archal OpenAPI gives each
# response (BadRequest, Unauthorized, Forbidden, NotFound, RateLimited, Unavailable); `detail`
# says what exactly was wrong. Statuses the spec does not describe get a sentence in its style.
_STATUS_TEXT: Final = {
    400: ("Bad Request", "Request is malformed or failed validation."),
    401: ("Unauthorized", "Missing, invalid, or expired Archal token."),
    403: ("Forbidden", "Authenticated user cannot access the requested resource."),
    404: ("Not Found", "Requested resource was not found."),
    405: ("Method Not Allowed", "This route does not take this HTTP method."),
    413: ("Payload Too Large", "Request body is larger than this endpoint accepts."),
    415: ("Unsupported Media Type", "Request body must be application/json."),
    429: ("Too Many Requests", "Rate limit exceeded."),
    503: ("Service Unavailable", "Required backing service is unavailable."),
}


def error_response(status: int, code: str, detail: str, retry_after_s: int | None = None) -> AdapterResponse:
    """The `ErrorResponse` body for `status`, with a Retry-After header when the sender should
    come back later (429, 503)."""
    title, message = _STATUS_TEXT.get(status, ("Error", "The request could not be processed."))
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return AdapterResponse(status=status, body={"error": title, "code": code, "message": message,
                                                "detail": _printable(detail) or message}, headers=headers)


def _printable(text: str) -> str:
    # The detail quotes the sender's field names, which may hold lone surrogates (not encodable
    # as UTF-8, so the answer itself would fail) or run to megabytes.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


def bad_request(detail: str) -> AdapterResponse:
    return error_response(400, "bad_request", detail)
