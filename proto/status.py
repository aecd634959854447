"""`google.rpc.Status` error bodies: OTLP/HTTP answers errors with one, gRPC carries it in trailers."""

from __future__ import annotations

import grpc
import orjson
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from spanhouse.proto.otlp_json import encode_message_json


def _code_number(code: int | grpc.StatusCode) -> int:
    # grpc.StatusCode values are (number, name) pairs.
    return int(code.value[0]) if isinstance(code, grpc.StatusCode) else int(code)


def build_status(code: int | grpc.StatusCode, message: str, retry_after_s: float | None = None) -> Status:
    """A Status with `code` (a gRPC code) and `message`; with `retry_after_s`, a RetryInfo
    detail, which OTLP clients need before they retry RESOURCE_EXHAUSTED."""
    status = Status(code=_code_number(code), message=message)
    if retry_after_s is not None:
        seconds = int(retry_after_s)
        delay = Duration(seconds=seconds, nanos=round((retry_after_s - seconds) * 1e9))
        status.details.add().Pack(RetryInfo(retry_delay=delay))
    return status


def encode_status(code: int | grpc.StatusCode, message: str, as_json: bool = False) -> bytes:
    """The body of an OTLP/HTTP error answer: protobuf for application/x-protobuf requests,
    OTLP/JSON for application/json ones."""
    status = build_status(code, message)
    return encode_message_json(status) if as_json else status.SerializeToString()


def encode_retry_status(code: int | grpc.StatusCode, message: str, retry_after_s: float) -> bytes:
    """Serialized Status with RetryInfo, for gRPC's `grpc-status-details-bin` trailer."""
    payload: bytes = build_status(code, message, retry_after_s).SerializeToString()
    return payload


def decode_status(body: bytes, as_json: bool = False) -> tuple[int, str]:
    """Code and message of a Status body, as an OTLP client reads an error answer;
    ValueError when the body is not one."""
    try:
        if as_json:
            document = orjson.loads(body)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            return int(document.get("code", 0)), str(document.get("message", ""))
        status = Status.FromString(body)
    except (DecodeError, TypeError, ValueError) as error:
        raise ValueError(f"not a google.rpc.Status: {error}") from error
    return int(status.code), str(status.message)
