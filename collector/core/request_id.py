"""The id of the request being answered: made by the listener for every HTTP request, sent back
as `X-Request-Id`, and named in the log line that holds an error answer's details."""

from __future__ import annotations

import contextvars
import secrets
from typing import Final

REQUEST_ID_HEADER: Final = "X-Request-Id"
# 64 random bits as hex: unique enough to find one line in a day of logs, short to quote.
_REQUEST_ID_BYTES: Final = 8

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("spanhouse_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(_REQUEST_ID_BYTES)


def current_request_id() -> str | None:
    """The id the listener gave the request this task serves (aiohttp runs each request in a
    task of its own, so the value never leaks into another request); None outside one."""
    return _current.get()


def bind_request_id(request_id: str) -> contextvars.Token[str | None]:
    return _current.set(request_id)


def unbind_request_id(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)
