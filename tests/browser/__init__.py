"""Browser tests: Home Assistant's web UI in headless Chromium, driven by Playwright."""
