"""The Service Management integration: Home Assistant events to Request Tracker tickets."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .data import RTConfigEntry
from .services import async_setup_services
from .runtime import async_create_runtime_data

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register the actions once, whether or not an entry loads."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: RTConfigEntry) -> bool:
    """Connect to RT, check the queue and catalog, and start the asset sync."""
    entry.runtime_data = await async_create_runtime_data(hass, entry)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: RTConfigEntry) -> bool:  # noqa: ARG001
    """Stop the asset sync and close the RT session."""
    await entry.runtime_data.assets.async_stop()
    await entry.runtime_data.session.close()
    return True


async def _async_update_listener(hass: HomeAssistant, entry: RTConfigEntry) -> None:
    """Reload the entry so changed options take effect."""
    await hass.config_entries.async_reload(entry.entry_id)
