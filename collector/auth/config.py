"""The top-level `auth:` section of collector.yaml: bearer tokens, each mapped to a tenant and
scopes, and the per-token rate limit. Tokens are resolved to SHA-256 digests while loading,
so that nothing after the loader ever holds a secret."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from spanhouse.collector.core.config.decode import INVALID, Decoder
from spanhouse.collector.core.config.document import ConfigDocument, YamlPath
from spanhouse.collector.core.config.types import PATH

Scope = Literal["write", "read"]
SCOPES: Final[tuple[Scope, ...]] = ("write", "read")
DIGEST_PREFIX: Final = "sha256:"
# Tenants end up in a LowCardinality column, in metric labels and in state keys.
TENANT_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_TENANT: Final = "default"
# A token shorter than this is guessable by brute force over the network.
MIN_TOKEN_CHARS: Final = 16
DEFAULT_REQUESTS_PER_SECOND: Final = 200.0
DEFAULT_BURST: Final = 400
_HEX_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")
_SECTION: Final[YamlPath] = ("auth",)


def _described(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True, slots=True)
class RateLimitSection:
    requests_per_second: float = field(default=DEFAULT_REQUESTS_PER_SECOND, metadata=_described(
        "Sustained requests per second a token may make, over all receivers; 0 turns the limit off."))
    burst: int = field(default=DEFAULT_BURST, metadata=_described(
        "Requests a token may make at once above the sustained rate."))


@dataclass(frozen=True, slots=True)
class TokenSection:
    tenant: str = field(metadata=_described("The tenant whose data the token writes and reads."))
    token: str = field(default="", metadata=_described(
        "The token itself (best from ${env:NAME}), or sha256:<64 hex digits> of it."))
    token_file: Annotated[str, PATH] | None = field(default=None, metadata=_described(
        "A file holding the token (or its sha256:<hex>), relative to this config file."))
    scopes: tuple[Scope, ...] = field(default=("write",), metadata=_described(
        "write to send spans, read for the read APIs."))
    name: str = field(default="", metadata=_described(
        "How logs and metrics name the token (default: <tenant>#<index>); never the token."))
    rate_limit: RateLimitSection | None = field(default=None, metadata=_described(
        "This token's own rate limit instead of auth.rate_limit."))


@dataclass(frozen=True, slots=True)
class AuthSection:
    tokens: tuple[TokenSection, ...] = field(default=(), metadata=_described(
        "The bearer tokens the receivers and read APIs accept."))
    rate_limit: RateLimitSection = field(default_factory=RateLimitSection, metadata=_described(
        "Per-token rate limit on every receiver (429 with Retry-After beyond it)."))


@dataclass(frozen=True, slots=True)
class RateLimit:
    requests_per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """A configured token, as what the loader keeps of it: its digest, never the token."""

    name: str
    digest: bytes  # sha256 of the token's UTF-8 bytes
    tenant: str
    scopes: frozenset[str]
    rate_limit: RateLimit

    def __repr__(self) -> str:
        return f"TokenEntry(name={self.name!r}, tenant={self.tenant!r}, scopes={sorted(self.scopes)})"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    tokens: tuple[TokenEntry, ...]


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_auth(document: ConfigDocument, decoder: Decoder, value: Any, config_dir: Path) -> AuthSettings | None:
    """The `auth` section resolved to digests, or None when there is none (or it is wrong,
    after reporting every problem)."""
    if "auth" not in document.root:
        return None
    section = decoder.decode_dataclass(AuthSection, value, _SECTION)
    if section is INVALID:
        return None
    assert isinstance(section, AuthSection)
    entries: list[TokenEntry] = []
    seen_digests: dict[bytes, int] = {}
    seen_names: set[str] = set()
    if not section.tokens:
        document.report((*_SECTION, "tokens"), "at least one token is required (remove auth to run without tokens)")
    _check_rate_limit(document, (*_SECTION, "rate_limit"), section.rate_limit)
    for index, token in enumerate(section.tokens):
        path = (*_SECTION, "tokens", index)
        digest = _resolve_digest(document, path, token, config_dir)
        ok = digest is not None
        if not TENANT_PATTERN.fullmatch(token.tenant):
            document.report((*path, "tenant"), "must be 1 to 64 letters, digits, _, . or -, starting with a "
                                               "letter or digit")
            ok = False
        if not token.scopes:
            document.report((*path, "scopes"), "at least one scope is required (write, read)")
            ok = False
        name = token.name or f"{token.tenant}#{index}"
        if name in seen_names:
            document.report((*path, "name"), f'token name "{name}" is used twice')
            ok = False
        seen_names.add(name)
        if digest is not None and digest in seen_digests:
            document.report(path, f"the same token is configured twice (also at auth.tokens[{seen_digests[digest]}])")
            ok = False
        if token.rate_limit is not None:
            ok = _check_rate_limit(document, (*path, "rate_limit"), token.rate_limit) and ok
        if not ok or digest is None:
            continue
        seen_digests[digest] = index
        limit = token.rate_limit or section.rate_limit
        entries.append(TokenEntry(name, digest, token.tenant, frozenset(token.scopes),
                                  RateLimit(limit.requests_per_second, limit.burst)))
    return AuthSettings(tuple(entries))


def _check_rate_limit(document: ConfigDocument, path: YamlPath, limit: RateLimitSection) -> bool:
    ok = True
    if limit.requests_per_second < 0:
        document.report((*path, "requests_per_second"), "must be 0 (no limit) or more")
        ok = False
    if limit.burst < 1:
        document.report((*path, "burst"), "must be at least 1")
        ok = False
    return ok


def _resolve_digest(document: ConfigDocument, path: YamlPath, token: TokenSection, config_dir: Path) -> bytes | None:
    # Error messages never quote the token or the file's content: they may be the secret.
    if bool(token.token) == (token.token_file is not None):
        document.report(path, "set exactly one of token, token_file")
        return None
    text = token.token
    where: YamlPath = (*path, "token")
    if token.token_file is not None:
        where = (*path, "token_file")
        file = config_dir / token.token_file
        try:
            text = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            document.report(where, f"cannot read the token file {file}: {reason}")
            return None
        if not text:
            document.report(where, f"the token file {file} is empty")
            return None
    if text.startswith(DIGEST_PREFIX):
        hex_digest = text[len(DIGEST_PREFIX):]
        if not _HEX_DIGEST.fullmatch(hex_digest):
            document.report(where, "a sha256: token must be followed by 64 hex digits")
            return None
        return bytes.fromhex(hex_digest)
    if len(text) < MIN_TOKEN_CHARS:
        document.report(where, f"a token must have at least {MIN_TOKEN_CHARS} characters")
        return None
    if text != text.strip() or any(character.isspace() for character in text):
        document.report(where, "a token must not contain whitespace")
        return None
    return token_digest(text)
