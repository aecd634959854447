"""An OTLP/HTTP error body carries the gRPC code of the one error table (collector/core/errors.py),
the same code the OTLP/gRPC receiver answers with: there is no second table to drift."""

from __future__ import annotations

import pytest
from google.rpc.status_pb2 import Status

from spanhouse.collector.core.errors import (
    PayloadTooLargeError,
    PermanentError,
    PermissionDeniedError,
    PipelineError,
    RequestTimeoutError,
    ResourceExhaustedError,
    RetryableError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    classify,
)
from spanhouse.collector.server.otlp_http import PROTOBUF, error_response


@pytest.mark.parametrize("error", [
    PermanentError("bad"), RetryableError("down"), ResourceExhaustedError("full"), PayloadTooLargeError("big"),
    UnsupportedMediaTypeError("br"), UnauthenticatedError("who"), PermissionDeniedError("no"),
    RequestTimeoutError("slow"), PipelineError("ours"), ValueError("unclassified"),
])
def test_http_status_body_has_the_grpc_code_of_the_table(error: Exception) -> None:
    answer = classify(error, "0123456789abcdef")
    response = error_response(PROTOBUF, error)
    assert response.status == answer.http_status
    assert isinstance(response.body, bytes)
    status = Status.FromString(response.body)
    assert status.code == answer.grpc_status.value[0]
