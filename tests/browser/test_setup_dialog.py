"""The setup and options dialogs of Service Management, as a user sees them in the web UI.

Home Assistant builds these dialogs from translations/<language>.json. A missing or
misspelled key shows only in the browser: as a bare field name instead of a label, as an
error key such as invalid_auth instead of its message, or as an empty title. These tests
add the integration the way a user does, against the real RT, and compare every label,
description, title and error the dialogs show with the translation file.

Each step leaves a screenshot and the dialog's accessibility tree in
build/screenshots/<test>/; pytest's summary prints the folders.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import expect

from .home_assistant_ui import (
    HOME_ASSISTANT_TEXTS,
    StepRecorder,
    click_button,
    flow_dialog,
    form_field,
    labelled_field,
    language_user_data,
    load_translations,
    log_in,
    open_brand_list,
    open_devices_and_services,
    open_options,
    raw_translation_keys,
    start_config_flow,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from playwright.async_api import Locator

    from tests.ha_server import HomeAssistantClient
    from tests.rt_server import RTServer

    from .chromium import FencedBrowser
    from .conftest import RunningHomeAssistant

pytestmark = pytest.mark.browser

BRAND = "Service Management"
DOMAIN = "ha_rt"

# Well-formed, but RT 5.0.3 has no such token and responds with 401.
WRONG_TOKEN = "1-999-" + "0" * 32
ADDRESS = "1 Harbour Street, Springfield"
NEW_ADDRESS = "2 Harbour Street, Springfield"
NEW_SYNC_INTERVAL_HOURS = 12
MISSING_CATALOG = "No Such Catalog"


@pytest.mark.parametrize("language", ["en", "de"])
async def test_setup_dialog_in_language(
    language: str,
    browser: FencedBrowser,
    home_assistant: RunningHomeAssistant,
    home_assistant_client: HomeAssistantClient,
    rt_server: RTServer,
    screenshot_dir: Path,
    add_summary_line: Callable[[str], None],
) -> None:
    translations = load_translations(language)
    if translations is None:
        pytest.skip(f"custom_components/ha_rt/translations/{language}.json does not exist yet")

    queue = f"Browser test {language}"
    catalog = f"Browser test devices {language}"
    rt_server.create_queue(queue)
    rt_server.create_catalog(catalog)
    await home_assistant_client.websocket_commands([language_user_data(language)])

    page = browser.context.pages[0]
    recorder = StepRecorder(page, screenshot_dir)
    texts = HOME_ASSISTANT_TEXTS[language]
    started = time.monotonic()
    try:
        await log_in(page, home_assistant.url, home_assistant.owner)
        await recorder.record("logged-in")

        await open_devices_and_services(page, texts)
        brand_list = await open_brand_list(page, texts)
        await start_config_flow(brand_list, BRAND)
        dialog = flow_dialog(page)
        await expect_form(dialog, translations["config"]["step"]["user"])
        snapshot = await recorder.record("user-step", dialog)
        await expect_no_raw_keys(snapshot, translations["config"], "user")

        entry_title = await add_entry(
            dialog, recorder, translations["config"], texts, rt_server, queue, catalog
        )
        entry = await loaded_entry(home_assistant_client, entry_title)

        await open_options(page, texts, entry_title)
        await expect_form(dialog, translations["options"]["step"]["init"])
        snapshot = await recorder.record("options-step", dialog)
        await expect_no_raw_keys(snapshot, translations["options"], "init")

        await change_options(dialog, recorder, translations["options"], texts, catalog)
    except BaseException:
        with contextlib.suppress(Exception):
            await recorder.record("failure")
        raise

    add_summary_line(f"{language}: login to saved options in {time.monotonic() - started:.1f} s")
    diagnostics = await home_assistant_client.get(
        f"/api/diagnostics/config_entry/{entry['entry_id']}"
    )
    assert diagnostics["data"]["options"]["catalog"] == catalog
    assert diagnostics["data"]["options"]["sync_interval"] == NEW_SYNC_INTERVAL_HOURS
    assert browser.blocked_urls == []


async def expect_form(dialog: Locator, step: Mapping[str, Any]) -> None:
    """Check that the form shows the step's title, description, labels and field help."""
    await expect(dialog.get_by_text(step["title"], exact=True)).to_be_visible()
    await expect(dialog.get_by_text(step["description"], exact=True)).to_be_visible()

    descriptions = step.get("data_description", {})
    for key, label in step["data"].items():
        field = labelled_field(dialog, label, descriptions.get(key))
        await expect(field, f"field {key!r} is labelled {label!r}").to_be_visible()
        if key in descriptions:
            help_text = dialog.get_by_text(descriptions[key], exact=True)
            await expect(help_text, f"field {key!r} shows its description").to_be_visible()


async def expect_no_raw_keys(snapshot: str, section: Mapping[str, Any], step_id: str) -> None:
    """Check that a form shows none of its field or error keys in place of a translation."""
    keys = [*section["step"][step_id]["data"], *section["error"]]
    assert raw_translation_keys(snapshot, keys) == []


async def expect_error(dialog: Locator, message: str) -> None:
    """Check that the form's alert shows message as its whole text.

    The message is slotted into the alert's shadow root, so the alert's own text content is
    empty. Its ARIA snapshot contains the text as shown. A JSON string is a YAML string too.
    """
    alert = dialog.get_by_role("alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_match_aria_snapshot(
        f"- alert: {json.dumps(message, ensure_ascii=False)}"
    )


async def add_entry(
    dialog: Locator,
    recorder: StepRecorder,
    config: Mapping[str, Any],
    texts: Mapping[str, str],
    rt_server: RTServer,
    queue: str,
    catalog: str,
) -> str:
    """Fill the user step, fix each error it shows until the entry exists, return its title.

    The first submit has a wrong token and leaves the local network option off, as a user
    who has not read the field help would. The URL check comes first, so the form shows
    "Invalid or unsafe URL". With the option on, it shows "Invalid API token", and the
    right token then creates the entry.
    """
    labels = config["step"]["user"]["data"]
    errors = config["error"]

    await form_field(dialog, "textbox", labels["url"]).fill(rt_server.url)
    await form_field(dialog, "textbox", labels["token"]).fill(WRONG_TOKEN)
    await form_field(dialog, "textbox", labels["queue"]).fill(queue)
    await form_field(dialog, "textbox", labels["catalog"]).fill(catalog)
    await form_field(dialog, "textbox", labels["address"]).fill(ADDRESS)
    # The test RT's certificate is self-signed. The switch's decorative thumb covers its
    # input element, so the click is forced: it lands on the thumb, where a user clicks.
    await form_field(dialog, "switch", labels["verify_ssl"]).set_checked(False, force=True)
    await click_button(dialog, texts["submit"])
    await expect_error(dialog, errors["invalid_url"])
    await recorder.record("invalid-url", dialog)

    await form_field(dialog, "switch", labels["allow_private_network"]).set_checked(
        True, force=True
    )
    await click_button(dialog, texts["submit"])
    await expect_error(dialog, errors["invalid_auth"])
    await recorder.record("invalid-auth", dialog)

    # The entry registers the RT server as a service device, named like the entry, so Home
    # Assistant follows the entry's creation with its step to name devices and pick areas.
    entry_title = f"{queue} (127.0.0.1)"
    await form_field(dialog, "textbox", labels["token"]).fill(rt_server.token)
    await click_button(dialog, texts["submit"])
    await expect(dialog.get_by_text(texts["name_and_assign"], exact=True)).to_be_visible()
    await expect(dialog.get_by_role("textbox")).to_have_value(entry_title)
    await recorder.record("entry-created", dialog)

    await click_button(dialog, texts["skip_and_finish"])
    return entry_title


async def change_options(
    dialog: Locator,
    recorder: StepRecorder,
    options: Mapping[str, Any],
    texts: Mapping[str, str],
    catalog: str,
) -> None:
    """Submit a catalog RT does not have, read the error, then save corrected options."""
    labels = options["step"]["init"]["data"]

    await form_field(dialog, "textbox", labels["catalog"]).fill(MISSING_CATALOG)
    await click_button(dialog, texts["submit"])
    await expect_error(dialog, options["error"]["catalog_not_found"])
    await recorder.record("catalog-not-found", dialog)

    await form_field(dialog, "textbox", labels["catalog"]).fill(catalog)
    await form_field(dialog, "textbox", labels["address"]).fill(NEW_ADDRESS)
    await form_field(dialog, "spinbutton", labels["sync_interval"]).fill(
        str(NEW_SYNC_INTERVAL_HOURS)
    )
    await click_button(dialog, texts["submit"])
    await expect(dialog.get_by_text(texts["success"], exact=True)).to_be_visible()
    await recorder.record("options-saved", dialog)

    await click_button(dialog, texts["finish"])


async def loaded_entry(client: HomeAssistantClient, title: str) -> dict[str, Any]:
    """Return the integration's config entry named title, checking that it is loaded."""
    entries = await client.get("/api/config/config_entries/entry")
    matching = [entry for entry in entries if entry["domain"] == DOMAIN and entry["title"] == title]

    assert len(matching) == 1, f"config entries of {DOMAIN}: {entries}"
    assert matching[0]["state"] == "loaded"
    return matching[0]
