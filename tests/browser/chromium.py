"""Start Debian's Chromium through Playwright, fenced off from every address but one origin.

Playwright's own browser builds are never downloaded: the tests use the Chromium that
scripts/install-browser installs from Debian's packages. The fence has three layers, so a
request that slips past one still never leaves the machine:

- launch flags that turn off Chromium's background traffic (background networking,
  component updates, sync, metrics reports, domain reliability, QUIC) and name resolution
  for every host but 127.0.0.1;
- a proxy on a loopback port that refuses connections, which every request goes through
  except those to loopback addresses, which Chromium sends directly by default;
- a Playwright route that aborts every page request outside the allowed origin and records
  its URL.

The route can also withhold requests to paths of the allowed origin whose server would
fetch the content from the internet.
"""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from yarl import URL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from playwright.async_api import BrowserContext, Playwright, Route

# Debian's chromium package puts the browser here. /usr/bin/chromium is a shell wrapper that
# also reads /etc/chromium.d, which adds Google API keys and turns on remote extensions.
DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_VARIABLE = "HA_RT_CHROMIUM"

# Tall enough that the whole setup dialog fits on one screenshot.
VIEWPORT = {"width": 1280, "height": 1800}

# Chromium features that contact Google's servers on their own.
DISABLED_FEATURES = (
    "Translate",
    "OptimizationHints",
    "MediaRouter",
    "DialMediaRouteProvider",
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
)
NETWORK_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-breakpad",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
    # Without this policy WebRTC sends UDP packets past the proxy.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    # Every host except 127.0.0.1 fails to resolve. The rules apply to IP literals too.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
STARTUP_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    # Shared memory goes to /tmp, because a small /dev/shm crashes Chromium. Debian's
    # launcher adds the flag itself when /dev/shm has less than 3.8 GB free.
    "--disable-dev-shm-usage",
)


def find_chromium() -> Path | None:
    """Return the Chromium executable: $HA_RT_CHROMIUM, else Debian's, else None."""
    configured = os.environ.get(CHROMIUM_VARIABLE)
    candidate = Path(configured) if configured else DEBIAN_CHROMIUM
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


@dataclass
class FencedBrowser:
    """A Chromium browser context whose pages may reach only `allowed_origin`.

    Requests to the allowed origin whose path starts with one of `withheld_paths` are
    aborted too, for servers that would forward them to the internet.
    """

    context: BrowserContext
    allowed_origin: str
    withheld_paths: tuple[str, ...] = ()
    blocked_urls: list[str] = field(default_factory=list)
    withheld_urls: list[str] = field(default_factory=list)

    async def route(self, route: Route) -> None:
        """Let requests to the allowed origin through; abort and record the others."""
        url = route.request.url
        if url.startswith(("data:", "blob:")):
            await route.continue_()
            return

        if _origin(url) != self.allowed_origin:
            self.blocked_urls.append(url)
            await route.abort("blockedbyclient")
        elif URL(url).path.startswith(self.withheld_paths):
            self.withheld_urls.append(url)
            await route.abort("blockedbyclient")
        else:
            await route.continue_()


@asynccontextmanager
async def open_fenced_browser(
    playwright: Playwright,
    executable: Path,
    profile_dir: Path,
    allowed_origin: str,
    withheld_paths: tuple[str, ...] = (),
) -> AsyncIterator[FencedBrowser]:
    """Start headless Chromium with a fresh profile in profile_dir, and close it on exit.

    allowed_origin is the one scheme://host:port that pages may load from, and it must be
    a loopback address: every other address goes to the refusing proxy.
    """
    with _refusing_loopback_port() as proxy_port:
        context = await playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=executable,
            headless=True,
            # Chromium's sandbox does not start as root, which CI runs as.
            chromium_sandbox=False,
            args=[
                *STARTUP_FLAGS,
                *NETWORK_FLAGS,
                f"--proxy-server=http://127.0.0.1:{proxy_port}",
            ],
            viewport=VIEWPORT,
            locale="en-US",
            timezone_id="UTC",
            # A service worker's requests would bypass the route below.
            service_workers="block",
        )
        browser = FencedBrowser(context, allowed_origin, withheld_paths)
        try:
            await context.route("**/*", browser.route)
            yield browser
        finally:
            await context.close()


@contextmanager
def _refusing_loopback_port() -> Iterator[int]:
    """Hold a loopback port that is bound but not listening, so connections to it fail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def _origin(url: str) -> str:
    parsed = URL(url)
    if not parsed.absolute:
        return ""
    return str(parsed.origin())
