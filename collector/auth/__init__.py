"""Authentication and tenancy: who may write and read what (docs/security.md).

For routes outside the receivers (the read API): `authenticate(host, headers, "read")` gives
the caller's `Principal`; restrict every query with `TenantId = {tenant:String}` bound to
`principal.tenant`, and answer another tenant's trace exactly as one that does not exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spanhouse.collector.auth.authenticator import Authenticator, Principal, bearer_token
from spanhouse.collector.auth.config import AuthSettings
from spanhouse.collector.auth.tenant import TENANT_ATTRIBUTE, stamp_tenant

__all__ = ["TENANT_ATTRIBUTE", "AuthSettings", "Authenticator", "Principal", "authenticate", "authenticator_of",
           "bearer_token", "stamp_tenant"]

_OPEN = Authenticator(None)


def authenticator_of(host: Any) -> Authenticator:
    """The running service's authenticator; the open one (no auth section) for hosts without one."""
    authenticator = getattr(host, "auth", None)
    return authenticator if isinstance(authenticator, Authenticator) else _OPEN


def authenticate(host: Any, headers: Mapping[str, str], required_scope: str) -> Principal:
    """The caller of a request: raises collector.core.errors.UnauthenticatedError (401) or
    PermissionDeniedError (403), which `collector.core.errors.classify` maps to HTTP and gRPC."""
    return authenticator_of(host).authenticate(headers, required_scope)
