"""A headless Chromium (Debian's `chromium` package) driven over the DevTools protocol with
aiohttp's websocket client: enough to load a page, wait for it, click like a user and take a
screenshot, without a browser-automation package (playwright's downloads its own browsers)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome")
# Flags for a quiet, isolated run: no sandbox (CI runs as root), no GPU, no network of its own
# (updates, sync, QUIC), and a fresh profile per browser.
CHROMIUM_FLAGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1400,900")
START_TIMEOUT_S: Final = 30.0
WAIT_POLL_S: Final = 0.05


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self._browser = browser
        self._session_id = session_id
        self.console_errors: list[str] = []

    async def send(self, method: str, **params: Any) -> Any:
        return await self._browser.send(method, params, self._session_id)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')} "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        """The value of `expression` once it is truthy."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout_s}s waiting for: {expression}; "
                                   f"console errors: {self.console_errors}")
            await asyncio.sleep(WAIT_POLL_S)

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of the first element matching `selector`."""
        box = await self.wait_for(
            f"(() => {{ const e = document.querySelector({orjson.dumps(selector).decode()});"
            f" if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();"
            f" return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()")
        x, y = box
        for event in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=event, x=x, y=y, button="left", clickCount=1)

    async def screenshot(self, path: Path) -> None:
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))


class Browser:
    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self._websocket = websocket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._websocket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            payload = orjson.loads(message.data)
            if "id" in payload:
                future = self._pending.pop(payload["id"], None)
                if future is not None and not future.done():
                    if "error" in payload:
                        future.set_exception(BrowserError(str(payload["error"])))
                    else:
                        future.set_result(payload.get("result", {}))
            elif payload.get("method") in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled"):
                page = self._pages.get(payload.get("sessionId", ""))
                params = payload.get("params", {})
                if page is not None and (payload["method"] == "Runtime.exceptionThrown"
                                         or params.get("type") == "error"):
                    page.console_errors.append(orjson.dumps(params).decode()[:500])
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the connection"))

    async def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Any:
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        await self._websocket.send_str(orjson.dumps(message).decode())
        return await asyncio.wait_for(future, 30)

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = self._pages[attached["sessionId"]] = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        return page

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def launch(executable: str) -> AsyncIterator[Browser]:
    """A headless Chromium with a fresh profile, stopped (and its profile removed) on exit."""
    profile = Path(tempfile.mkdtemp(prefix="spanhouse-chromium-"))
    process = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None:
                raise BrowserError(f"{executable} exited with {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise BrowserError(f"{executable} did not open its DevTools port within {START_TIMEOUT_S}s")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as websocket:
            browser = Browser(websocket)
            try:
                yield browser
            finally:
                await browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
