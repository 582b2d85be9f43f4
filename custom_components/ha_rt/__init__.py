"""The Service Management integration: Home Assistant events to Request Tracker tickets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.const import Platform
from homeassistant.helpers import config_validation as cv

from .asset_store import async_remove_snapshot
from .const import DOMAIN
from .issues import async_delete_entry_issues
from .outbox import async_remove_outbox
from .runtime import async_create_runtime_data
from .services import async_setup_services

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

    from .data import RTConfigEntry

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

# The outbox's pending requests sensor and RT connectivity sensor.
PLATFORMS: Final = (Platform.BINARY_SENSOR, Platform.SENSOR)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register the actions once, whether or not an entry loads."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: RTConfigEntry) -> bool:
    """Connect to RT, check the queue and catalog, and start the asset sync and outbox."""
    # The options flow reloads the entry itself (OptionsFlowWithReload), and so do
    # reauthentication and reconfiguration, so no update listener is needed.
    entry.runtime_data = await async_create_runtime_data(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.runtime_data.outbox.async_start()
    return True


async def async_unload_entry(hass: HomeAssistant, entry: RTConfigEntry) -> bool:
    """Stop the outbox and the asset sync and close the RT session.

    The outbox's requests stay in storage for the next setup.
    """
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False

    await entry.runtime_data.outbox.async_stop()
    await entry.runtime_data.assets.async_stop()
    await entry.runtime_data.session.close()
    return True


async def async_remove_entry(hass: HomeAssistant, entry: RTConfigEntry) -> None:
    """Delete the entry's outbox, asset snapshot and repair issues, which nothing would clear."""
    await async_remove_outbox(hass, entry)
    await async_remove_snapshot(hass, entry.entry_id)
    async_delete_entry_issues(hass, entry.entry_id)
