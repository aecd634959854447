"""Errors classified once, where they arise, and mapped to HTTP and gRPC in one place; what the
sender is told of an error that is not its fault is a short reason and a request id, the
details go to the log under that id (collector.core.error_log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import grpc

from spanhouse.collector.core.error_log import log_error_detail
from spanhouse.collector.core.request_id import current_request_id, new_request_id
from spanhouse.proto.errors import DecompressedTooLargeError, MalformedPayloadError, UnknownEncodingError

DEFAULT_RETRY_AFTER_S: Final = 5
# What the sender of a request is told when the error is ours: never the exception's own text,
# which can name an endpoint, a file path, a query id or SQL.
UNAVAILABLE_REASON: Final = "temporarily unavailable, retry later"
INTERNAL_REASON: Final = "internal error"


class PipelineError(Exception):
    """Base of the errors a consumer raises to say the data was not taken."""

    http_status: int = 500
    grpc_status: grpc.StatusCode = grpc.StatusCode.INTERNAL


class PermanentError(PipelineError):
    """Bad data: never retried (HTTP 400, gRPC INVALID_ARGUMENT)."""

    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class RetryableError(PipelineError):
    """The data was fine but could not be taken now (HTTP 503, gRPC UNAVAILABLE)."""

    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, retry_after_s: int = DEFAULT_RETRY_AFTER_S, reason: str | None = None) -> None:
        """`message` is for the log (it may name endpoints and paths); `reason` is what the
        sender is told, UNAVAILABLE_REASON unless given."""
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reason = reason


class ResourceExhaustedError(RetryableError):
    """The pipeline is full (memory limiter, queue): HTTP 429, gRPC RESOURCE_EXHAUSTED. Its
    message is written for the sender (which limit, when to retry) and told as it is."""

    http_status = 429
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message, retry_after_s, reason=message)


class PayloadTooLargeError(PermanentError):
    """Over a size limit, before or after decompression (HTTP 413, gRPC RESOURCE_EXHAUSTED)."""

    http_status = 413
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnsupportedMediaTypeError(PermanentError):
    http_status = 415


class UnauthenticatedError(PermanentError):
    """No token, or one that is not configured (HTTP 401, gRPC UNAUTHENTICATED)."""

    http_status = 401
    grpc_status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(PermanentError):
    """A valid token without the scope the route needs (HTTP 403, gRPC PERMISSION_DENIED)."""

    http_status = 403
    grpc_status = grpc.StatusCode.PERMISSION_DENIED


class RequestTimeoutError(PermanentError):
    """The sender was too slow to send its request (HTTP 408, gRPC DEADLINE_EXCEEDED)."""

    http_status = 408
    grpc_status = grpc.StatusCode.DEADLINE_EXCEEDED


def from_wire(error: MalformedPayloadError) -> PermanentError:
    """The status a wire format's refusal gets: 413 past a size limit, 415 for an unknown
    encoding, 400 for anything else malformed."""
    if isinstance(error, DecompressedTooLargeError):
        return PayloadTooLargeError(str(error))
    if isinstance(error, UnknownEncodingError):
        return UnsupportedMediaTypeError(str(error))
    return PermanentError(str(error))


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """How a receiver answers an error, whatever its transport."""

    http_status: int
    grpc_status: grpc.StatusCode
    message: str  # safe to send: the sender's own mistake, or a short reason and the request id
    retry_after_s: int | None
    request_id: str = ""
    logged: bool = False  # the details went to the log under request_id


def classify(error: BaseException, request_id: str | None = None, unclassified_status: int = 503) -> ErrorAnswer:
    """The single table from errors to status codes (OTLP spec rules: only 429/502/503/504
    and UNAVAILABLE/RESOURCE_EXHAUSTED-with-retry-info are retried by clients). An error that
    is the sender's (PermanentError, and the limits of ResourceExhaustedError) is told as it
    is; any other is told as a short reason with the request id, its details logged under it.
    `unclassified_status`: 500 where an unexpected failure is not worth retrying (reads)."""
    request_id = request_id or current_request_id() or new_request_id()
    if isinstance(error, MalformedPayloadError):
        error = from_wire(error)
    if isinstance(error, PermanentError):
        return ErrorAnswer(error.http_status, error.grpc_status, str(error), None, request_id)
    if isinstance(error, ResourceExhaustedError):
        return ErrorAnswer(error.http_status, error.grpc_status, str(error), error.retry_after_s, request_id)
    if isinstance(error, RetryableError):
        logged = log_error_detail(request_id, error.http_status, error)
        return ErrorAnswer(error.http_status, error.grpc_status,
                           f"{error.reason or UNAVAILABLE_REASON} (request id {request_id})", error.retry_after_s,
                           request_id, logged)
    # Anything unclassified is our fault, not the sender's; tell it to retry later
    # rather than dropping the data with a 500 that clients do not retry.
    if isinstance(error, PipelineError):  # the base class: 500 / INTERNAL, as it says
        http_status, grpc_status, retry_after = error.http_status, error.grpc_status, None
    elif unclassified_status == 503:
        http_status, grpc_status, retry_after = 503, grpc.StatusCode.UNAVAILABLE, DEFAULT_RETRY_AFTER_S
    else:
        http_status, grpc_status, retry_after = unclassified_status, grpc.StatusCode.INTERNAL, None
    logged = log_error_detail(request_id, http_status, error,
                              with_traceback=not isinstance(error, PipelineError | ConnectionError | TimeoutError))
    return ErrorAnswer(http_status, grpc_status, f"{INTERNAL_REASON} (request id {request_id})", retry_after,
                       request_id, logged)
