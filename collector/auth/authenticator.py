"""Who is calling: the bearer token of a request checked in constant time against the
configured digests, giving the caller's tenant and scopes, or a classified 401/403."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from spanhouse.collector.auth.config import DEFAULT_TENANT, SCOPES, AuthSettings, RateLimit, TokenEntry, token_digest
from spanhouse.collector.core.errors import PermissionDeniedError, UnauthenticatedError

logger = logging.getLogger(__name__)

BEARER: Final = "bearer"
# Longer "tokens" are not hashed: nothing configured can be that long, and hashing is the cost.
MAX_TOKEN_CHARS: Final = 4096
ANONYMOUS: Final = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    tenant: str
    scopes: frozenset[str]
    token_name: str  # for rate limits, logs and metrics; never the token itself
    rate_limit: RateLimit | None = None  # None: not limited (no auth section)


OPEN_PRINCIPAL: Final = Principal(DEFAULT_TENANT, frozenset(SCOPES), ANONYMOUS)


class Authenticator:
    """Checks requests against the `auth` section; with none, every request is the `default`
    tenant with every scope."""

    def __init__(self, settings: AuthSettings | None) -> None:
        self._entries: tuple[TokenEntry, ...] = settings.tokens if settings is not None else ()
        self.enabled = settings is not None
        self._principals = {entry.name: Principal(entry.tenant, entry.scopes, entry.name, entry.rate_limit)
                            for entry in self._entries}

    def authenticate(self, headers: Mapping[str, str], required_scope: str) -> Principal:
        """The caller of a request with `headers` (HTTP headers or gRPC metadata), allowed
        `required_scope` ("write" or "read"). Raises UnauthenticatedError (401) for a missing
        or unknown token, PermissionDeniedError (403) for a token without the scope."""
        if not self.enabled:
            return OPEN_PRINCIPAL
        token = bearer_token(headers)
        if token is None:
            raise UnauthenticatedError("missing bearer token: send the header Authorization: Bearer <token>")
        principal = self._match(token)
        if principal is None:
            raise UnauthenticatedError("invalid token")
        if required_scope not in principal.scopes:
            raise PermissionDeniedError(f'this token may not {required_scope}: it lacks the "{required_scope}" scope')
        return principal

    def _match(self, token: str) -> Principal | None:
        if len(token) > MAX_TOKEN_CHARS:
            return None
        digest = token_digest(token)
        found: TokenEntry | None = None
        # Every entry is compared, with compare_digest, so that the time taken tells nothing
        # of which token or how much of one matched.
        for entry in self._entries:
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        return self._principals[found.name] if found is not None else None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of `Authorization: Bearer <token>` (scheme case-insensitive), or None."""
    value = headers.get("Authorization")
    if value is None:
        value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != BEARER:
        return None
    token = token.strip()
    return token or None


def metadata_headers(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """gRPC invocation metadata as a header mapping (text values only; keys are lowercase)."""
    headers: dict[str, str] = {}
    for key, value in metadata or ():
        if isinstance(value, str):
            headers.setdefault(key, value)
    return headers
