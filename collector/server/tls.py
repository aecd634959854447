"""TLS for the receivers' listeners (`tls:` under an HTTP or gRPC endpoint): a certificate and
key, and with `client_ca_file` mutual TLS, where a client without a certificate signed by that
CA cannot even connect."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final, Literal

import grpc

from spanhouse.collector.core.config.types import PATH

TLS_VERSIONS: Final = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True, slots=True)
class TlsConfig:
    cert_file: Annotated[str, PATH] = field(metadata={
        "description": "PEM certificate chain the server presents (relative to the config file)."})
    key_file: Annotated[str, PATH] = field(metadata={"description": "PEM private key of cert_file."})
    client_ca_file: Annotated[str, PATH] | None = field(default=None, metadata={
        "description": "PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)."})
    min_version: Literal["1.2", "1.3"] = field(default="1.2", metadata={
        "description": "Oldest TLS version accepted (gRPC: 1.2 only, grpc's own minimum)."})


class TlsError(Exception):
    """A certificate or key that cannot be loaded; raised at start, naming the file."""


def _read(config_dir: Path, name: str, what: str) -> bytes:
    path = config_dir / name
    try:
        return path.read_bytes()
    except OSError as error:
        raise TlsError(f"cannot read the TLS {what} {path}: {error.strerror}") from None


def server_ssl_context(config: TlsConfig, config_dir: Path) -> ssl.SSLContext:
    """An ssl.SSLContext for an HTTP listener."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[config.min_version]
    cert, key = config_dir / config.cert_file, config_dir / config.key_file
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise TlsError(f"cannot load the TLS certificate {cert} with key {key}: {error}") from None
    if config.client_ca_file is not None:
        ca = config_dir / config.client_ca_file
        try:
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as error:
            raise TlsError(f"cannot load the TLS client CA {ca}: {error}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_server_credentials(config: TlsConfig, config_dir: Path) -> grpc.ServerCredentials:
    """Server credentials for a gRPC listener; the files are checked as for HTTP first, since
    grpc reports a bad key only in its own log."""
    server_ssl_context(config, config_dir)
    cert = _read(config_dir, config.cert_file, "certificate")
    key = _read(config_dir, config.key_file, "key")
    ca = _read(config_dir, config.client_ca_file, "client CA") if config.client_ca_file is not None else None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)
