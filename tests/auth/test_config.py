"""The `auth` section: every way to give a token, and every mistake reported at its line
without ever quoting the token."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from spanhouse.collector.auth import Authenticator
from spanhouse.collector.config.loader import load_config_text
from spanhouse.collector.core.config.errors import ConfigError
from spanhouse.collector.core.errors import PermissionDeniedError, UnauthenticatedError
from spanhouse.collector.exposure import exposed_addresses, warn_if_exposed_without_auth
from spanhouse.collector.registry import default_registry

SERVICE = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  debug:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""
SECRET = "s3cret-token-0123456789"


def load(auth: str, tmp_path: Path, environ: dict[str, str] | None = None, endpoint: str = "127.0.0.1:4318"):  # type: ignore[no-untyped-def]
    return load_config_text(SERVICE % endpoint + auth, "collector.yaml", default_registry(), environ or {},
                            config_dir=tmp_path)


def test_every_way_to_give_a_token(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text(f"  {SECRET}-file\n")
    digest = hashlib.sha256(f"{SECRET}-hashed".encode()).hexdigest()
    config = load(f"""
auth:
  tokens:
    - token: ${{env:TOKEN}}
      tenant: acme
      scopes: [write, read]
    - token: sha256:{digest.upper()}
      tenant: beta
      scopes: [read]
    - token_file: token.txt
      tenant: gamma
      name: gamma-ingest
""", tmp_path, {"TOKEN": SECRET})
    assert config.auth is not None
    assert [entry.name for entry in config.auth.tokens] == ["acme#0", "beta#1", "gamma-ingest"]
    assert SECRET not in repr(config.auth)
    authenticator = Authenticator(config.auth)
    for token, tenant, scope in ((SECRET, "acme", "read"), (f"{SECRET}-hashed", "beta", "read"),
                                 (f"{SECRET}-file", "gamma", "write")):
        principal = authenticator.authenticate({"Authorization": f"Bearer {token}"}, scope)
        assert principal.tenant == tenant
    with pytest.raises(PermissionDeniedError):
        authenticator.authenticate({"authorization": f"Bearer {SECRET}-hashed"}, "write")
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Token {SECRET}"},
                    {"Authorization": "Bearer " + "x" * 100_000}, {"Authorization": f"Bearer {SECRET}x"}):
        with pytest.raises(UnauthenticatedError):
            authenticator.authenticate(headers, "write")


def test_mistakes_are_reported_at_their_line_without_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(f"""
auth:
  tokens:
    - token: short
      tenant: acme
    - token: sha256:abc
      tenant: acme
    - token: {SECRET}
      token_file: t.txt
      tenant: acme
    - token_file: missing.txt
      tenant: acme
    - token: {SECRET}
      tenant: "no spaces"
      scopes: [write, admin]
    - token: {SECRET}
      tenant: acme
    - token: {SECRET}
      tenant: beta
  rate_limit:
    burst: 0
""", tmp_path)
    text = str(raised.value)
    assert SECRET not in text
    lines = text.splitlines()
    expected = [
        "collector.yaml:20: auth.tokens[0].token: a token must have at least 16 characters",
        "collector.yaml:22: auth.tokens[1].token: a sha256: token must be followed by 64 hex digits",
        "collector.yaml:24: auth.tokens[2]: set exactly one of token, token_file",
        f"collector.yaml:27: auth.tokens[3].token_file: cannot read the token file {tmp_path / 'missing.txt'}: "
        "No such file or directory",
        "collector.yaml:37: auth.rate_limit.burst: must be at least 1",
        "collector.yaml:34: auth.tokens[6]: the same token is configured twice (also at auth.tokens[5])",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert any("auth.tokens[4].scopes[1]" in line and "admin" in line for line in lines), lines


def test_an_empty_auth_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load("auth:\n", tmp_path)
    assert "auth.tokens: at least one token is required (remove auth to run without tokens)" in str(raised.value)


def test_no_auth_warns_only_beyond_loopback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert exposed_addresses(load("", tmp_path)) == []
    assert exposed_addresses(load("", tmp_path, endpoint="localhost:4318")) == []
    assert exposed_addresses(load("", tmp_path, endpoint="\"[::1]:4318\"")) == []
    config = load("", tmp_path, endpoint="0.0.0.0:4318")
    assert exposed_addresses(config) == ["otlp on 0.0.0.0:4318"]
    with caplog.at_level(logging.WARNING):
        warn_if_exposed_without_auth(config)
    assert "no auth section" in caplog.text and "0.0.0.0:4318" in caplog.text
