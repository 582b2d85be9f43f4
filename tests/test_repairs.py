"""Tests for the repair issue about custom fields missing in RT, against the test RT."""

from __future__ import annotations

from typing import TYPE_CHECKING
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ha_rt.const import DOMAIN, TICKET_CUSTOM_FIELDS
from custom_components.ha_rt.issues import missing_custom_fields_issue_id
from custom_components.ha_rt.rt import RTClient, RTConnectionError
from custom_components.ha_rt.runtime import CUSTOM_FIELD_CHECK_INTERVAL

from .entry_helpers import (
    apply_custom_field,
    create_catalog,
    create_queue,
    remove_custom_field,
    rt_config_entry,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def run_hourly_check(hass: HomeAssistant) -> None:
    # Firing time runs every due loop timer, including the request timeouts of RT
    # requests in flight, so the asset sync started by setup must finish first.
    await hass.async_block_till_done(wait_background_tasks=True)
    async_fire_time_changed(hass, dt_util.utcnow() + CUSTOM_FIELD_CHECK_INTERVAL)
    await hass.async_block_till_done(wait_background_tasks=True)


def missing_fields_issue(
    issue_registry: ir.IssueRegistry, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, missing_custom_fields_issue_id(entry.entry_id))


async def test_missing_field_issue_cleared_when_applied(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    queue = create_queue(trusted_rt, [name for name in TICKET_CUSTOM_FIELDS if name != "Area"])
    entry = rt_config_entry(trusted_rt, queue=queue)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    issue = missing_fields_issue(issue_registry, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.is_fixable is False
    assert issue.translation_key == "missing_custom_fields"
    assert issue.translation_placeholders == {
        "title": entry.title,
        "missing_custom_fields": f"{queue}: Area",
    }

    apply_custom_field(trusted_rt, "queue", queue, "Area")
    await run_hourly_check(hass)

    assert missing_fields_issue(issue_registry, entry) is None
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_missing_asset_field_issue(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    catalog = create_catalog(
        trusted_rt,
        ["DeviceId", "Manufacturer", "Serial Number", "Firmware Version", "Hardware Version"],
    )
    entry = rt_config_entry(trusted_rt, catalog=catalog)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    issue = missing_fields_issue(issue_registry, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["missing_custom_fields"] == (
        f"{catalog}: Model, Configuration URL, MAC Address"
    )
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_missing_device_id_blocks_setup(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    queue = create_queue(trusted_rt)
    remove_custom_field(trusted_rt, "queue", queue, "DeviceId")
    entry = rt_config_entry(trusted_rt, queue=queue)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "setup_device_id_missing"
    issue = missing_fields_issue(issue_registry, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR

    apply_custom_field(trusted_rt, "queue", queue, "DeviceId")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert missing_fields_issue(issue_registry, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_device_id_removed_while_loaded(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    queue = create_queue(trusted_rt)
    entry = rt_config_entry(trusted_rt, queue=queue)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert missing_fields_issue(issue_registry, entry) is None

    remove_custom_field(trusted_rt, "queue", queue, "DeviceId")
    await run_hourly_check(hass)
    await hass.async_block_till_done()

    issue = missing_fields_issue(issue_registry, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert entry.state is ConfigEntryState.SETUP_RETRY

    apply_custom_field(trusted_rt, "queue", queue, "DeviceId")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert missing_fields_issue(issue_registry, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_failed_check_keeps_issue(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    queue = create_queue(trusted_rt, [name for name in TICKET_CUSTOM_FIELDS if name != "Address"])
    entry = rt_config_entry(trusted_rt, queue=queue)
    await setup_entry(hass, entry)
    assert missing_fields_issue(issue_registry, entry) is not None
    apply_custom_field(trusted_rt, "queue", queue, "Address")

    with patch.object(RTClient, "get_queue", side_effect=RTConnectionError("RT is down")):
        await run_hourly_check(hass)

    assert missing_fields_issue(issue_registry, entry) is not None
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_removed_entry_deletes_issue(
    hass: HomeAssistant, trusted_rt: RTServer, issue_registry: ir.IssueRegistry
) -> None:
    queue = create_queue(trusted_rt, [name for name in TICKET_CUSTOM_FIELDS if name != "Area"])
    entry = rt_config_entry(trusted_rt, queue=queue)
    await setup_entry(hass, entry)
    assert missing_fields_issue(issue_registry, entry) is not None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert missing_fields_issue(issue_registry, entry) is None
