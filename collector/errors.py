"""Errors classified once, where they arise, and mapped to HTTP and gRPC in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import grpc

DEFAULT_RETRY_AFTER_S: Final = 5


class PipelineError(Exception):
    """Base of the errors a consumer raises to say the data was not taken."""

    http_status: int = 500
    grpc_status: grpc.StatusCode = grpc.StatusCode.INTERNAL
    retryable: bool = False


class PermanentError(PipelineError):
    """Bad data: never retried (HTTP 400, gRPC INVALID_ARGUMENT)."""

    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class RetryableError(PipelineError):
    """The data was fine but could not be taken now (HTTP 503, gRPC UNAVAILABLE)."""

    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE
    retryable = True

    def __init__(self, message: str, retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ResourceExhaustedError(RetryableError):
    """The pipeline is full (memory limiter, queue): HTTP 429, gRPC RESOURCE_EXHAUSTED."""

    http_status = 429
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED


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


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """How a receiver answers an error, whatever its transport."""

    http_status: int
    grpc_status: grpc.StatusCode
    message: str
    retry_after_s: int | None


def classify(error: BaseException) -> ErrorAnswer:
    """The single table from errors to status codes (OTLP spec rules: only 429/502/503/504
    and UNAVAILABLE/RESOURCE_EXHAUSTED-with-retry-info are retried by clients)."""
    if isinstance(error, PipelineError):
        retry_after = error.retry_after_s if isinstance(error, RetryableError) else None
        return ErrorAnswer(error.http_status, error.grpc_status, str(error), retry_after)
    # Anything unclassified is our fault, not the sender's; tell it to retry later
    # rather than dropping the data with a 500 that clients do not retry.
    return ErrorAnswer(503, grpc.StatusCode.UNAVAILABLE, f"internal error: {error}", DEFAULT_RETRY_AFTER_S)
