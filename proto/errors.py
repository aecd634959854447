"""What the wire formats raise when bytes are not what the format allows. They know nothing of
HTTP or gRPC: the core maps these to status codes (collector/core/errors.py, `from_wire`)."""

from __future__ import annotations


class MalformedPayloadError(ValueError):
    """The bytes are not a valid message of the format: the sender's mistake, never retried."""


class DecompressedTooLargeError(MalformedPayloadError):
    """The body inflates past the size limit it was given."""


class UnknownEncodingError(MalformedPayloadError):
    """A content encoding the format does not know."""
