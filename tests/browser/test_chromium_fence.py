"""The fence around the test browser: pages reach the allowed origin and nothing else.

The requests go to a host under .invalid, a top-level domain that never resolves (RFC
6761), so nothing could leave the machine even if the fence failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from .chromium import open_fenced_browser

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.browser

ALLOWED_ORIGIN = "http://127.0.0.1:9"
OUTSIDE_URL = "http://outside.ha-rt.invalid/"


async def test_fence_route_aborts_other_origin(
    chromium_executable: Path, tmp_path: Path, socket_enabled: None
) -> None:
    async with (
        async_playwright() as playwright,
        open_fenced_browser(playwright, chromium_executable, tmp_path, ALLOWED_ORIGIN) as browser,
    ):
        page = await browser.context.new_page()
        with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
            await page.goto(OUTSIDE_URL)

        assert browser.blocked_urls == [OUTSIDE_URL]


async def test_fence_proxy_refuses_without_route(
    chromium_executable: Path, tmp_path: Path, socket_enabled: None
) -> None:
    async with (
        async_playwright() as playwright,
        open_fenced_browser(playwright, chromium_executable, tmp_path, ALLOWED_ORIGIN) as browser,
    ):
        await browser.context.unroute_all()
        page = await browser.context.new_page()

        # Chromium hands the request to the proxy on the refusing loopback port.
        with pytest.raises(PlaywrightError, match="ERR_PROXY_CONNECTION_FAILED"):
            await page.goto(OUTSIDE_URL)

        assert browser.blocked_urls == []
