"""Tests for the config entry diagnostics, fetched through Home Assistant's HTTP API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from unittest.mock import patch

import pytest
from homeassistant.components.diagnostics import REDACTED
from homeassistant.config_entries import ConfigEntryState
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.ha_rt.const import (
    ASSET_CUSTOM_FIELDS,
    CONF_ADDRESS,
    CONF_CATALOG,
    CONF_HA_URL,
    CONF_TOKEN,
    CONF_URL,
    TICKET_CUSTOM_FIELDS,
)
from custom_components.ha_rt.rt import RTAPIError, RTClient, RTConnectionError

from .entry_helpers import (
    ADDRESS,
    HA_URL,
    create_catalog,
    rt_config_entry,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, trusted_rt: RTServer) -> MockConfigEntry:
    """Return a config entry set up against the test RT, with a catalog of its own."""
    entry = rt_config_entry(trusted_rt, catalog=create_catalog(trusted_rt))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def test_diagnostics_redacts_settings(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    trusted_rt: RTServer,
    loaded_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)

    assert diagnostics["state"] == "loaded"
    assert diagnostics["setup_error"] is None
    assert diagnostics["data"][CONF_TOKEN] == REDACTED
    assert diagnostics["data"][CONF_URL] == REDACTED
    assert diagnostics["options"][CONF_HA_URL] == REDACTED
    assert diagnostics["options"][CONF_ADDRESS] == REDACTED
    assert diagnostics["data"]["queue"] == trusted_rt.queue
    assert diagnostics["options"][CONF_CATALOG] == loaded_entry.options[CONF_CATALOG]
    text = json.dumps(diagnostics)
    for secret in (trusted_rt.token, trusted_rt.url, "127.0.0.1", HA_URL, ADDRESS):
        assert secret not in text


async def test_diagnostics_reports_rt_state(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    trusted_rt: RTServer,
    loaded_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)

    rt = diagnostics["rt"]
    assert rt["version"].startswith("5.0.3")
    assert rt["queue"]["name"] == trusted_rt.queue
    assert rt["queue"]["id"] > 0
    assert set(TICKET_CUSTOM_FIELDS) <= set(rt["queue"]["custom_fields"])
    assert rt["catalog"]["name"] == loaded_entry.options[CONF_CATALOG]
    assert rt["catalog"]["id"] > 0
    assert set(ASSET_CUSTOM_FIELDS) <= set(rt["catalog"]["custom_fields"])
    assert rt["missing_custom_fields"] == {"queue": [], "catalog": []}


async def test_diagnostics_reports_rt_failure(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    trusted_rt: RTServer,
    loaded_entry: MockConfigEntry,
) -> None:
    error = RTConnectionError(f"Cannot connect to RT at 127.0.0.1 ({trusted_rt.url}): reset")

    with patch.object(RTClient, "get_queue", side_effect=error):
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)

    assert diagnostics["rt"] == {
        "failure": "cannot_connect",
        "error": f"Cannot connect to RT at {REDACTED} ({REDACTED}): reset",
    }


async def test_diagnostics_reports_rt_error(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    error = RTAPIError("RT rejected GET /REST/2.0/catalog/7 (HTTP 500)", status=500)

    with patch.object(RTClient, "get_catalog", side_effect=error):
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)

    assert diagnostics["rt"] == {
        "failure": "RTAPIError",
        "error": "RT rejected GET /REST/2.0/catalog/7 (HTTP 500)",
    }


async def test_diagnostics_of_entry_not_loaded(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, trusted_rt: RTServer
) -> None:
    entry = rt_config_entry(trusted_rt, queue="No such queue")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["state"] == "setup_retry"
    assert diagnostics["setup_error"] == "setup_queue_not_found"
    assert diagnostics["rt"]["failure"] == "queue_not_found"
    assert "No such queue" in diagnostics["rt"]["error"]
    assert trusted_rt.token not in json.dumps(diagnostics)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_of_entry_with_refused_url(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, trusted_rt: RTServer
) -> None:
    entry = rt_config_entry(trusted_rt, allow_private_network=False)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["state"] == "setup_retry"
    assert diagnostics["rt"]["failure"] == "invalid_url"
    assert "127.0.0.1" not in diagnostics["rt"]["error"]
    assert await hass.config_entries.async_unload(entry.entry_id)
