"""Steps a user takes in Home Assistant's web UI, and a recorder for their screenshots.

Element names and Home Assistant's own texts are the ones of home-assistant-frontend
20261028.4, the release in requirements/demo.lock. Most locators use roles and visible
names, as a user finds things. Dialogs are found by their custom element name, because
Playwright's role locators do not look into content slotted into a dialog's shadow root.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from playwright.async_api import expect

from tests.ha_server import INTEGRATION_DIR

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from playwright.async_api import Locator, Page

    from tests.ha_server import Owner

TRANSLATIONS_DIR = INTEGRATION_DIR / "translations"

# The dialog of a config flow or options flow, and the one that lists brands to add.
FLOW_DIALOG = "dialog-data-entry-flow"
ADD_INTEGRATION_DIALOG = "dialog-add-integration"
CONFIG_ENTRY_ROW = "ha-config-entry-row"

LINK_ATTEMPTS = 3
LINK_WAIT_MS = 10_000

# Texts of the Home Assistant frontend that the steps look for, by language. Their keys in
# the frontend's translations are panel.config, and under ui.panel.config:
# dashboard.devices.main, integrations.add_integration, integrations.config_entry.configure
# and integrations.config_flow.{submit,device_created,finish_skip,success,finish}.
HOME_ASSISTANT_TEXTS = {
    "en": {
        "settings": "Settings",
        "devices_and_services": "Devices & services",
        "add_integration": "Add integration",
        "configure": "Configure",
        "submit": "Submit",
        "name_and_assign": "Name and assign",
        "skip_and_finish": "Skip and finish",
        "success": "Success",
        "finish": "Finish",
    },
    "de": {
        "settings": "Einstellungen",
        "devices_and_services": "Geräte & Dienste",
        "add_integration": "Integration hinzufügen",
        "configure": "Konfigurieren",
        "submit": "OK",
        "name_and_assign": "Benennen und zuordnen",
        "skip_and_finish": "Überspringen und fertigstellen",
        "success": "Erfolg",
        "finish": "Fertigstellen",
    },
}

# The value of the frontend/set_user_data "language" key that the profile page stores when
# a user picks a language and leaves the number, date and time formats at their defaults.
_LANGUAGE_DEFAULTS = {
    "number_format": "language",
    "time_format": "language",
    "date_format": "language",
    "time_zone": "local",
    "first_weekday": "language",
}

# Parts of a translation key path, which the frontend shows for some missing texts. For a
# missing label or error message it shows the bare field or error key instead.
_KEY_PATH = re.compile(r"component\.|(?:config|options)\.(?:step|error|abort)\.")


def load_translations(language: str) -> dict[str, Any] | None:
    """Return translations/<language>.json of the integration, or None when it is missing."""
    path = TRANSLATIONS_DIR / f"{language}.json"
    if not path.is_file():
        return None

    translations: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return translations


def language_user_data(language: str) -> dict[str, Any]:
    """Return the frontend/set_user_data command that sets the user's language."""
    return {
        "type": "frontend/set_user_data",
        "key": "language",
        "value": {"language": language, **_LANGUAGE_DEFAULTS},
    }


@dataclass
class StepRecorder:
    """Save a numbered screenshot of the page, and the dialog's accessibility tree, per step.

    steps.txt in the folder lists the steps with the seconds each took.
    """

    page: Page
    folder: Path
    count: int = 0
    _last_step_at: float = field(default_factory=time.monotonic)

    async def record(self, name: str, dialog: Locator | None = None) -> str:
        """Save <n>-<name>.png, and for a dialog <n>-<name>.txt, then return the dialog's tree.

        The text file contains Playwright's ARIA snapshot of the dialog: every name, label and
        text a screen reader would announce, which is what the assertions read.
        """
        now = time.monotonic()
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        with (self.folder / "steps.txt").open("a", encoding="utf-8") as steps:
            steps.write(f"{stem}: {now - self._last_step_at:.1f} s\n")
        self._last_step_at = now

        await self.page.screenshot(path=self.folder / f"{stem}.png")
        if dialog is None:
            return ""

        snapshot = await dialog.aria_snapshot()
        (self.folder / f"{stem}.txt").write_text(snapshot + "\n", encoding="utf-8")
        return snapshot


async def log_in(page: Page, url: str, owner: Owner) -> None:
    """Open Home Assistant, enter the owner's name and password on the login page, log in."""
    await page.goto(f"{url}/")

    await page.get_by_role("textbox", name="Username").fill(owner.username)
    await page.get_by_role("textbox", name="Password").fill(owner.password)
    await page.get_by_role("button", name="Log in").click()

    await page.wait_for_url(lambda current: "/auth/" not in current)


async def open_devices_and_services(page: Page, texts: Mapping[str, str]) -> None:
    """Go to Settings > Devices & services through the sidebar and the settings page."""
    await follow_link(page, texts["settings"], "**/config/dashboard")
    await follow_link(page, texts["devices_and_services"], "**/config/integrations/dashboard")


async def follow_link(page: Page, name: str, url: str) -> None:
    """Click the link called name until the page is at url, as a user clicks again.

    Right after login the frontend renders the sidebar before its router handles clicks,
    so the first click sometimes goes nowhere.
    """
    link = page.get_by_role("link", name=name)
    for _attempt in range(LINK_ATTEMPTS - 1):
        await link.click()
        try:
            await page.wait_for_url(url, timeout=LINK_WAIT_MS)
        except PlaywrightTimeoutError:
            continue
        return

    await link.click()
    await page.wait_for_url(url, timeout=LINK_WAIT_MS)


async def open_brand_list(page: Page, texts: Mapping[str, str]) -> Locator:
    """Click "Add integration" and return the dialog that lists the brands."""
    await page.get_by_role("button", name=texts["add_integration"]).click()

    dialog = page.locator(ADD_INTEGRATION_DIALOG)
    await expect(dialog.get_by_role("textbox")).to_be_focused()
    return dialog


async def start_config_flow(brand_list: Locator, brand: str) -> None:
    """Search the brand list for brand and click it, which starts its config flow."""
    await brand_list.get_by_role("textbox").fill(brand)
    await brand_list.get_by_role("button", name=brand, exact=True).click()


def flow_dialog(page: Page) -> Locator:
    """Return the dialog that shows the steps of a config flow or options flow."""
    return page.locator(FLOW_DIALOG)


def form_field(dialog: Locator, role: str, label: str) -> Locator:
    """Return the text box, number box or switch (role) that is labelled label."""
    return dialog.get_by_role(role, name=_field_name(role, label))  # type: ignore[arg-type]


def labelled_field(dialog: Locator, label: str, description: str | None) -> Locator:
    """Return the form field of any kind that is labelled label."""
    field_locator = dialog.get_by_role("switch", name=_field_name("switch", label, description))
    for role in ("textbox", "spinbutton", "combobox"):
        field_locator = field_locator.or_(dialog.get_by_role(role, name=_field_name(role, label)))
    return field_locator


def _field_name(role: str, label: str, description: str | None = None) -> re.Pattern[str]:
    """Return the accessible name of a field labelled label.

    Home Assistant 2026.11 appends "*" to the label of a required text or number box. A
    switch's accessible name is its label followed by its description.
    """
    if role != "switch":
        return re.compile(rf"^{_escape(label)}\*?$")
    if description is None:
        return re.compile(rf"^{_escape(label)}(\s|$)")
    return re.compile(rf"^{_escape(label)}( {_escape(description)})?$")


def _escape(text: str) -> str:
    """Escape text for a pattern that Playwright passes to the browser as /pattern/."""
    return re.escape(text).replace("/", r"\/")


async def click_button(dialog: Locator, name: str) -> None:
    """Click the dialog's button called name, such as Submit or Finish."""
    await dialog.get_by_role("button", name=name, exact=True).click()


async def open_options(page: Page, texts: Mapping[str, str], entry_title: str) -> None:
    """Open the integration's page from its card and click Configure on the entry's row."""
    await page.get_by_text("Service Management", exact=True).click()
    await page.wait_for_url("**/config/integrations/integration/*")

    row = page.locator(CONFIG_ENTRY_ROW).filter(has_text=entry_title)
    await row.get_by_role("button", name=texts["configure"]).click()


def raw_translation_keys(snapshot: str, keys: Iterable[str]) -> list[str]:
    """Return the key paths, and the snake_case keys among keys, that a dialog's text shows.

    Keys without an underscore, such as "url" or "queue", are also plain words, so only the
    label checks can catch them.
    """
    found = sorted({match.group(0) for match in _KEY_PATH.finditer(snapshot)})
    words = set(re.findall(r"[a-z_]+", snapshot))
    found.extend(sorted(key for key in keys if "_" in key and key in words))
    return found
