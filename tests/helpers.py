"""Helpers for integration tests: config entries, settings and clients for the test RT, devices."""

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
from custom_components.ha_rt.data import EntrySettings
from custom_components.ha_rt.rt import RTClient

if TYPE_CHECKING:
    import aiohttp
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


def rt_settings(
    rt_server: RTServer,
    *,
    url: str | None = None,
    token: str | None = None,
    queue: str | None = None,
    **outbox_settings: Any,
) -> EntrySettings:
    """Return the settings of an `rt_entry`, for objects built outside a loaded entry.

    `url`, `token` and `queue` replace the test RT's own, such as a fault proxy's URL.
    """
    return EntrySettings(
        url=url or rt_server.url,
        token=token or rt_server.token,
        queue=queue or rt_server.queue,
        catalog=rt_server.catalog,
        ha_url=HA_URL,
        address=ADDRESS,
        sync_interval_hours=6,
        allow_private_network=True,
        verify_ssl=False,
        **outbox_settings,
    )


def rt_client(
    session: aiohttp.ClientSession,
    rt_server: RTServer,
    settings: EntrySettings,
    *,
    request_timeout: float = 10.0,
) -> RTClient:
    """Return a client for the settings' URL and token that trusts the test RT's certificate."""
    return RTClient(
        session,
        settings.url,
        settings.token,
        request_timeout=request_timeout,
        ssl=rt_server.ssl_context(),
    )


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
