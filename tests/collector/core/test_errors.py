"""The one table from errors to status codes, including the wire formats' own refusals."""

from __future__ import annotations

import grpc
import pytest

from spanhouse.collector.core.errors import classify
from spanhouse.proto.errors import DecompressedTooLargeError, MalformedPayloadError, UnknownEncodingError


@pytest.mark.parametrize(("error", "http_status", "grpc_status"), [
    (MalformedPayloadError("gzip body is truncated"), 400, grpc.StatusCode.INVALID_ARGUMENT),
    (DecompressedTooLargeError("decompressed body exceeds the limit of 10 bytes"), 413,
     grpc.StatusCode.RESOURCE_EXHAUSTED),
    (UnknownEncodingError('unsupported content encoding "br"'), 415, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_a_wire_format_refusal_is_the_senders_mistake(error: MalformedPayloadError, http_status: int,
                                                      grpc_status: grpc.StatusCode) -> None:
    answer = classify(error, "0123456789abcdef")
    assert (answer.http_status, answer.grpc_status, answer.message, answer.retry_after_s) == (
        http_status, grpc_status, str(error), None)
