"""The trace viewer in a real headless Chromium against a running collector holding known
traces: the list shows them, a click opens the waterfall, the span panel shows the span's
attributes, events and conversation, compare-agents shows both agents, and a 2,000-span trace
renders and stays clickable. Screenshots of the pages go to build/test-artifacts/viewer/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import aiohttp
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.adapters.agentvista.plugin import agent_id
from spanhouse.collector.core.component import Traces
from tests.conftest import Collector, StartCollector
from tests.exporters.clickhouse.otlp_samples import attributes
from tests.read.browser import Page, chromium_path, launch
from tests.read.collector_setup import start_read_collector, store_known_traces
from tests.read.sample_traces import OTLP_TRACE_HEX

ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "viewer"
BIG_TRACE_HEX: Final = "2cf7651916cd43dd8448eb211c80319e"
BIG_TRACE_SPANS: Final = 2000
# Generous for a 2-core CI machine; a 2,000-span page renders in well under a second here.
BIG_TRACE_RENDER_LIMIT_S: Final = 10.0


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        # Not a skip: CI installs it (.ci/run), and a developer should too.
        pytest.fail("the viewer tests need Chromium: apt-get install -y chromium")
    return path


def _count(selector: str) -> str:
    return f"document.querySelectorAll({selector!r}).length"


async def _open(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for("document.body && document.body.dataset.ready === 'true'")


async def test_list_waterfall_span_panel_and_compare(start_collector: StartCollector, chromium: str) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, time.time_ns() - 600 * 1_000_000_000)
    base_url = f"http://127.0.0.1:{running.ports['query']}/"
    async with launch(chromium) as browser:
        page = await browser.new_page()
        await _open(page, base_url)
        await page.wait_for(_count("#trace-list tbody tr") + " === 3")
        agents = await page.evaluate(
            "[...document.querySelectorAll('#trace-list tbody tr')].map(r => r.children[1].textContent)")
        assert sorted(agents) == ["billing", "lead-qualifier", "triage"]
        await page.screenshot(ARTIFACTS / "search.png")

        await page.click(f'#trace-list tr[data-trace-id="{OTLP_TRACE_HEX}"]')
        await page.wait_for(_count(".span-row") + " === 4")
        rows = await page.evaluate("""[...document.querySelectorAll('.span-row')].map(r => ({
            name: r.querySelector('.name').textContent,
            indent: parseFloat(r.querySelector('.label').style.paddingLeft),
            bar: r.querySelector('.bar').className,
            left: parseFloat(r.querySelector('.bar').style.left)}))""")
        assert [row["name"] for row in rows] == ["invoke_agent triage", "chat gpt-4o-mini",
                                                 "execute_tool lookup_order", "chat gpt-4o"]
        assert rows[0]["indent"] < rows[1]["indent"] == rows[2]["indent"] == rows[3]["indent"]
        assert [row["bar"] for row in rows] == ["bar ok", "bar ok", "bar ok", "bar error"]
        assert rows[2]["left"] == pytest.approx(25.0)  # 300 ms into a 1.2 s trace
        header = await page.evaluate("document.getElementById('trace-header').textContent")
        assert "triage" in header and "420" in header

        await page.click('.span-row[data-span-id="c1c2c3c4c5c6c7c8"]')
        await page.wait_for("document.getElementById('span-name')?.textContent === 'execute_tool lookup_order'")
        attributes_text = await page.evaluate("document.getElementById('span-attributes').textContent")
        assert "gen_ai.tool.name" in attributes_text and "lookup_order" in attributes_text
        events_text = await page.evaluate("document.getElementById('span-events').textContent")
        assert "order.found" in events_text and "order.id" in events_text and "42" in events_text

        await page.click('.span-row[data-span-id="b1b2b3b4b5b6b7b8"]')
        await page.wait_for("document.getElementById('span-conversation') !== null")
        conversation = await page.evaluate(
            "[...document.querySelectorAll('#span-conversation .message')].map(m => m.className + ': ' + "
            "m.querySelector('.text').textContent)")
        assert conversation == ["message user: Where is my order 42?", "message assistant: It ships today."]
        usage = await page.evaluate("document.getElementById('span-usage').textContent")
        assert "input tokens" in usage and "100" in usage and "0.25" in usage
        await page.screenshot(ARTIFACTS / "trace.png")

        first, second = agent_id("default", "lead-qualifier"), agent_id("default", "triage")
        await _open(page, f"{base_url}#/compare?agent_a={first}&agent_b={second}")
        await page.wait_for(_count("#compare-table tbody tr") + " > 0")
        table = await page.evaluate("""[...document.querySelectorAll('#compare-table tr')].map(
            r => [...r.children].map(c => c.textContent))""")
        assert table[0] == ["", "lead-qualifier", "triage"]
        assert ["traces", "1", "1"] in table
        assert ["success rate", "100.0 %", "\u2013"] in table  # an en dash for "no outcome known"
        await page.screenshot(ARTIFACTS / "compare.png")
        assert page.console_errors == []


def big_trace(base_ns: int) -> Traces:
    """One trace of BIG_TRACE_SPANS spans: a root, 39 agent runs of 49 tool calls each, then
    model calls under the root up to the count."""
    traces = Traces()
    resource = traces.resource_spans.add()
    resource.resource.attributes.extend(attributes({"service.name": "big-agent"}))
    spans = resource.scope_spans.add().spans
    trace_id = bytes.fromhex(BIG_TRACE_HEX)

    def add(index: int, parent: int | None, name: str, start_ms: float, duration_ms: float) -> None:
        span = Span(trace_id=trace_id, span_id=(index + 1).to_bytes(8, "big"), name=name,
                    kind=Span.SpanKind.SPAN_KIND_INTERNAL,
                    parent_span_id=(parent + 1).to_bytes(8, "big") if parent is not None else b"",
                    start_time_unix_nano=base_ns + round(start_ms * 1e6),
                    end_time_unix_nano=base_ns + round((start_ms + duration_ms) * 1e6))
        span.attributes.extend(attributes({"step": index}))
        spans.append(span)

    add(0, None, "invoke_agent planner", 0, 40_000)
    index = 1
    for agent in range(39):
        agent_index = index
        add(agent_index, 0, f"invoke_agent worker-{agent}", agent * 1000, 990)
        index += 1
        for step in range(49):
            add(index, agent_index, f"execute_tool step-{agent}-{step}", agent * 1000 + step * 20, 18)
            index += 1
    while index < BIG_TRACE_SPANS:
        add(index, 0, f"chat summary-{index}", 39_000, 10)
        index += 1
    return traces


async def _post_otlp(running: Collector, traces: Traces) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['http']}/v1/traces", data=traces.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 200
    await running.drain()


async def test_a_2000_span_trace_stays_usable(start_collector: StartCollector, chromium: str) -> None:
    running = await start_read_collector(start_collector)
    await _post_otlp(running, big_trace(time.time_ns() - 300 * 1_000_000_000))
    base_url = f"http://127.0.0.1:{running.ports['query']}/"
    async with launch(chromium) as browser:
        page = await browser.new_page()
        started = time.monotonic()
        await _open(page, f"{base_url}#/trace/{BIG_TRACE_HEX}")
        await page.wait_for(_count(".span-row") + f" === {BIG_TRACE_SPANS}")
        assert time.monotonic() - started < BIG_TRACE_RENDER_LIMIT_S
        last = BIG_TRACE_SPANS.to_bytes(8, "big").hex()
        started = time.monotonic()
        await page.click(f'.span-row[data-span-id="{last}"]')
        last_name = f"chat summary-{BIG_TRACE_SPANS - 1}"
        await page.wait_for(f"document.getElementById('span-name')?.textContent === '{last_name}'")
        assert time.monotonic() - started < BIG_TRACE_RENDER_LIMIT_S
        # Collapsing the first agent run hides its 49 steps.
        await page.click(f'[data-toggle="{(2).to_bytes(8, "big").hex()}"]')
        await page.wait_for(_count(".span-row") + f" === {BIG_TRACE_SPANS - 49}")
        await page.screenshot(ARTIFACTS / "big-trace.png")
        assert page.console_errors == []
