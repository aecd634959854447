"""A third-party adapter installed with pip (into a target directory) is found through the
`spanhouse.adapters` entry point and serves its routes from collector.yaml."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from spanhouse.collector.core.component import Kind
from spanhouse.collector.registry import default_registry
from tests.conftest import StartCollector

PLUGIN_SOURCE = Path(__file__).parent / "testdata" / "example_plugin"

CONFIG = """
receivers:
  echo:
    endpoint: 127.0.0.1:{port:echo}
    greeting: bonjour
    state_directory: {dir}/state
exporters:
  clickhouse:
    endpoint: chdb://{dir}/clickhouse
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{port:metrics}
  pipelines:
    traces:
      receivers: [echo]
      exporters: [clickhouse]
"""


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path_factory.mktemp("source") / "example_plugin"
    shutil.copytree(PLUGIN_SOURCE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(source)], check=True, cwd=source)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    importlib.invalidate_caches()


async def test_installed_plugin_serves_its_routes(installed_plugin: Path, start_collector: StartCollector) -> None:
    assert "echo" in default_registry().types(Kind.RECEIVER)
    collector = await start_collector(CONFIG)
    url = f"http://127.0.0.1:{collector.ports['echo']}/echo"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"name": "first-span"}) as response:
            assert response.status == 200
            assert await response.json() == {"echoed": "first-span"}
        async with session.post(url, json={"name": 5}) as response:
            assert response.status == 400
            assert await response.json() == {"echo_error": "bad_request", "why": "name must be a string"}
        async with session.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
            assert (await response.json())["echo_error"] == "bad_request"
    rows = await collector.aquery("SELECT SpanName, ServiceName, SpanAttributes FROM otel.otel_traces")
    assert rows == [("first-span", "echo-service", {"echo.greeting": "bonjour"})]

