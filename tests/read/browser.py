"""A headless Chromium (Debian's `chromium` package) driven by Playwright for Python, for the
viewer tests: load a page, wait for it, click like a user, take a screenshot, and keep the
page's console errors. Playwright's own browser downloads are not used: `executable_path`
points it at the system's Chromium (Playwright 1.65 drives Debian's 156 over CDP)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import ConsoleMessage, Error, async_playwright
from playwright.async_api import Page as PlaywrightPage

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome")
# Flags for a quiet, isolated run: no sandbox (CI runs as root), no GPU, no network of its own
# (updates, sync, QUIC). Playwright adds headless mode and a fresh profile per browser.
CHROMIUM_FLAGS: Final = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")
VIEWPORT: Final = {"width": 1400, "height": 900}
WAIT_TIMEOUT_S: Final = 20.0


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab, with the few steps the viewer tests take; the console errors it logged (and
    its uncaught exceptions) collect in `console_errors`."""

    def __init__(self, page: PlaywrightPage) -> None:
        self._page = page
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"[:500]))

    def _console(self, message: ConsoleMessage) -> None:
        # console.error calls of the page's scripts, as before; the browser's own log entries
        # (no arguments: the favicon fetch the viewer answers with 404) are not the page's errors.
        if message.type == "error" and message.args:
            self.console_errors.append(f"{message.text} at {message.location}"[:500])

    async def goto(self, url: str) -> None:
        await self._page.goto(url)

    async def evaluate(self, expression: str) -> Any:
        return await self._page.evaluate(expression)

    async def wait_for(self, expression: str, timeout_s: float = WAIT_TIMEOUT_S) -> Any:
        """The value of `expression` once it is truthy."""
        try:
            handle = await self._page.wait_for_function(expression, timeout=timeout_s * 1000)
        except Error as error:
            raise BrowserError(f"waiting for: {expression}; console errors: {self.console_errors}: "
                               f"{error.message}") from error
        return await handle.json_value()

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of the first element matching `selector`, once it
        is visible and stable (Playwright's actionability checks)."""
        await self._page.click(selector, timeout=WAIT_TIMEOUT_S * 1000)

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self._page.screenshot(path=path)


class Browser:
    def __init__(self, browser: PlaywrightBrowser) -> None:
        self._browser = browser

    async def new_page(self) -> Page:
        return Page(await self._browser.new_page(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]}))


@contextlib.asynccontextmanager
async def launch(executable: str) -> AsyncIterator[Browser]:
    """A headless Chromium with a fresh profile, stopped (and its profile removed) on exit."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
        try:
            yield Browser(browser)
        finally:
            await browser.close()
