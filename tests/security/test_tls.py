"""TLS and mutual TLS on the OTLP HTTP and gRPC receivers and on an adapter receiver, with
certificates the test makes."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import StartCollector
from tests.security.certs import Certificates, make_certificates
from tests.security.helpers import otlp_request, vendor_routes
from tests.support.configs import collector_config

CONFIG = collector_config("security/tls")


def client_context(certs: Certificates, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


async def post_tls(url: str, body: bytes, content_type: str, context: ssl.SSLContext) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers={"Content-Type": content_type}, ssl=context) as response:
        return response.status


async def test_tls(start_collector: StartCollector, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    collector = await start_collector(CONFIG % {"client_ca": ""})
    context = client_context(certs)
    body = otlp_request().SerializeToString()
    assert await post_tls(f"https://127.0.0.1:{collector.ports['http']}/v1/traces", body,
                          "application/x-protobuf", context) == 200
    zipkin = next(route for route in vendor_routes() if route.receiver == "zipkin")
    assert await post_tls(f"https://127.0.0.1:{collector.ports['zipkin']}/api/v2/spans", orjson.dumps(zipkin.body),
                          "application/json", context) == 202
    # TLS 1.2 is refused where min_version is 1.3.
    old = client_context(certs)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(aiohttp.ClientError):
        await post_tls(f"https://127.0.0.1:{collector.ports['http']}/v1/traces", body, "application/x-protobuf", old)
    # Plain HTTP to a TLS port gets nowhere.
    with pytest.raises(aiohttp.ClientError):
        await post_tls(f"http://127.0.0.1:{collector.ports['http']}/v1/traces", body, "application/x-protobuf",
                       context)
    credentials = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
    async with grpc.aio.secure_channel(f"127.0.0.1:{collector.ports['grpc']}", credentials) as channel:
        await trace_service_pb2_grpc.TraceServiceStub(channel).Export(otlp_request(), timeout=10)


async def test_mutual_tls(start_collector: StartCollector, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    collector: Any = await start_collector(CONFIG % {"client_ca": "client_ca_file: certs/ca.pem"})
    body = otlp_request().SerializeToString()
    url = f"https://127.0.0.1:{collector.ports['http']}/v1/traces"
    assert await post_tls(url, body, "application/x-protobuf",
                          client_context(certs, certs.client_cert, certs.client_key)) == 200
    for context in (client_context(certs), client_context(certs, certs.other_client_cert, certs.other_client_key)):
        with pytest.raises(aiohttp.ClientError):
            await post_tls(url, body, "application/x-protobuf", context)

    target = f"127.0.0.1:{collector.ports['grpc']}"
    good = grpc.ssl_channel_credentials(certs.ca.read_bytes(), certs.client_key.read_bytes(),
                                        certs.client_cert.read_bytes())
    async with grpc.aio.secure_channel(target, good) as channel:
        await trace_service_pb2_grpc.TraceServiceStub(channel).Export(otlp_request(), timeout=10)
    anonymous = grpc.ssl_channel_credentials(certs.ca.read_bytes())
    async with grpc.aio.secure_channel(target, anonymous) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await trace_service_pb2_grpc.TraceServiceStub(channel).Export(otlp_request(), timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_missing_certificate_fails_the_start_naming_the_file(start_collector: StartCollector) -> None:
    with pytest.raises(Exception, match=r"server\.pem"):
        await start_collector(CONFIG % {"client_ca": ""})
