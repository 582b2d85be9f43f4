"""Helpers for integration tests: config entries loaded against the test RT, and devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ha_rt.const import (
    CONF_ADDRESS,
    CONF_ALLOW_PRIVATE_NETWORK,
    CONF_CATALOG,
    CONF_HA_URL,
    CONF_QUEUE,
    CONF_SYNC_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    CONF_VERIFY_SSL,
    DOMAIN,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .rt_server import RTServer

ADDRESS = "1 Harbour Road, Springfield"

# Only written into RT as the base of device links; nothing connects to it.
HA_URL = "http://127.0.0.1:8123"


def rt_entry(
    rt_server: RTServer,
    *,
    queue: str | None = None,
    catalog: str | None = None,
    address: str = ADDRESS,
    title: str = "Test RT",
) -> MockConfigEntry:
    """Return a config entry for the test RT, not yet added to Home Assistant.

    The test RT serves 127.0.0.1 with a self-signed certificate, so the entry allows
    private network addresses and skips certificate verification.
    """
    data: dict[str, Any] = {
        CONF_URL: rt_server.url,
        CONF_TOKEN: rt_server.token,
        CONF_QUEUE: queue or rt_server.queue,
        CONF_ALLOW_PRIVATE_NETWORK: True,
        CONF_VERIFY_SSL: False,
    }
    options: dict[str, Any] = {
        CONF_CATALOG: catalog or rt_server.catalog,
        CONF_HA_URL: HA_URL,
        CONF_ADDRESS: address,
        CONF_SYNC_INTERVAL: 6,
    }
    return MockConfigEntry(domain=DOMAIN, title=title, data=data, options=options)


async def async_setup_rt_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry to Home Assistant, set it up for real and check that it loaded."""
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    return entry


def add_device(
    hass: HomeAssistant, entry: MockConfigEntry, name: str, *, area: str | None = None
) -> dr.DeviceEntry:
    """Add a device to the device registry, in a new or existing area when one is named."""
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("test", name)},
        name=name,
        manufacturer="Acme",
        model="Leak sensor",
    )
    if area is None:
        return device

    area_entry = ar.async_get(hass).async_get_or_create(area)
    updated = dr.async_get(hass).async_update_device(device.id, area_id=area_entry.id)
    assert updated is not None
    return updated
