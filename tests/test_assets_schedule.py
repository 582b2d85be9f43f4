"""When the asset sync runs: after start, on registry events, on the interval, by action.

These tests set the config entry up for real against the test RT, each with its own
catalog, and check RT's state afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import pytest
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ha_rt import assets as assets_module
from custom_components.ha_rt.assets import COALESCE_QUIET_SECONDS
from custom_components.ha_rt.const import (
    CF_MODEL,
    CONF_SYNC_INTERVAL,
    DOMAIN,
    SERVICE_SYNC_ASSETS,
)

from .assets_fixtures import (
    add_device,
    device_owner,
    full_device,
    new_catalog,
    rt_client,
)
from .helpers import async_setup_rt_entry, rt_entry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.ha_rt.assets import AssetSync
    from custom_components.ha_rt.rt import RTClient

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def inspector(rt_server: RTServer) -> AsyncIterator[RTClient]:
    """Return a client, separate from the integration's, for checking RT's state."""
    async with aiohttp.ClientSession() as session:
        yield rt_client(rt_server, session, request_timeout=120.0)


def name_changes(rt_server: RTServer, asset_id: int) -> int:
    """Count the transactions in RT that changed the asset's name."""
    output = rt_server.perl(
        """
        my $asset = RT::Asset->new(RT->SystemUser);
        $asset->Load($args->{id});
        my $transactions = $asset->Transactions;
        $transactions->Limit(FIELD => 'Type', VALUE => 'Set');
        $transactions->Limit(FIELD => 'Field', VALUE => 'Name');
        print $transactions->Count;
        """,
        {"id": asset_id},
    )
    return int(output)


async def settle(hass: HomeAssistant) -> None:
    """Wait until the syncs started in the background have finished."""
    await hass.async_block_till_done(wait_background_tasks=True)


async def fire_after(hass: HomeAssistant, delay: timedelta) -> None:
    """Move Home Assistant's clock forward and let the syncs it starts finish."""
    async_fire_time_changed(hass, dt_util.utcnow() + delay)
    await settle(hass)


def assets_of(entry: MockConfigEntry) -> AssetSync:
    return entry.runtime_data.assets


async def setup_with_catalog(hass: HomeAssistant, rt_server: RTServer) -> MockConfigEntry:
    entry = rt_entry(rt_server, catalog=new_catalog(rt_server))
    return await async_setup_rt_entry(hass, entry)


async def test_setup_syncs_after_home_assistant_started(hass: HomeAssistant, rt_server, inspector):
    hass.set_state(CoreState.not_running)
    devices = [full_device(hass, device_owner(hass), number) for number in range(2)]
    entry = rt_entry(rt_server, catalog=new_catalog(rt_server))

    await async_setup_rt_entry(hass, entry)
    await settle(hass)

    assert assets_of(entry).asset_id_for(devices[0].id) is None
    assert (
        await inspector.list_catalog_assets(entry.options["catalog"], with_custom_fields=False)
        == []
    )

    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await settle(hass)

    for device in devices:
        assert assets_of(entry).asset_id_for(device.id) is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_setup_does_not_wait_for_first_sync(hass: HomeAssistant, rt_server):
    device = full_device(hass, device_owner(hass), 1)

    entry = await setup_with_catalog(hass, rt_server)

    # The first sync needs several requests and a pause of a second before its read-back,
    # so it cannot have finished when setup returns.
    assert assets_of(entry).asset_id_for(device.id) is None
    await settle(hass)
    assert assets_of(entry).asset_id_for(device.id) is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_burst_of_device_updates_costs_one_write(hass: HomeAssistant, rt_server, inspector):
    device = full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)
    asset_id = assets_of(entry).asset_id_for(device.id)
    registry = dr.async_get(hass)

    for number in range(5):
        registry.async_update_device(device.id, name_by_user=f"Leak sensor {number}")
    await fire_after(hass, timedelta(seconds=COALESCE_QUIET_SECONDS + 1))

    assert (await inspector.get_asset(asset_id)).name == "Leak sensor 4"
    assert name_changes(rt_server, asset_id) == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_steady_device_updates_sync_by_max_wait(
    hass: HomeAssistant, rt_server, inspector, monkeypatch
):
    monkeypatch.setattr(assets_module, "COALESCE_QUIET_SECONDS", 0.5)
    monkeypatch.setattr(assets_module, "COALESCE_MAX_SECONDS", 1.0)
    device = full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)
    asset_id = assets_of(entry).asset_id_for(device.id)
    registry = dr.async_get(hass)

    # An update every 0.25 s for 4 s: the events never pause for the quiet time.
    for number in range(16):
        registry.async_update_device(device.id, name_by_user=f"Update {number}")
        await asyncio.sleep(0.25)
    changes_during_updates = name_changes(rt_server, asset_id)
    await settle(hass)

    assert changes_during_updates >= 1
    assert (await inspector.get_asset(asset_id)).name.startswith("Update ")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_unrelated_device_change_queues_nothing(hass: HomeAssistant, rt_server):
    device = full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)

    dr.async_get(hass).async_update_device(device.id, disabled_by=dr.DeviceEntryDisabler.USER)

    assert device.id not in assets_of(entry)._queued_devices
    await hass.config_entries.async_unload(entry.entry_id)


async def test_registry_events_create_and_retire(hass: HomeAssistant, rt_server, inspector):
    owner = device_owner(hass)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)

    device = full_device(hass, owner, 1)
    await fire_after(hass, timedelta(seconds=COALESCE_QUIET_SECONDS + 1))
    asset_id = assets_of(entry).asset_id_for(device.id)

    assert asset_id is not None
    assert (await inspector.get_asset(asset_id)).status == "in-use"

    dr.async_get(hass).async_remove_device(device.id)
    await fire_after(hass, timedelta(seconds=COALESCE_QUIET_SECONDS + 1))

    assert (await inspector.get_asset(asset_id)).status == "recycled"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_interval_sync_corrects_rt_edit(hass: HomeAssistant, rt_server, inspector):
    device = full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)
    asset_id = assets_of(entry).asset_id_for(device.id)
    await inspector.update_asset(asset_id, custom_fields={CF_MODEL: "edited in RT"})

    await fire_after(hass, timedelta(hours=5))
    assert (await inspector.get_asset(asset_id)).custom_fields[CF_MODEL] == "edited in RT"

    await fire_after(hass, timedelta(hours=6, seconds=1))
    assert (await inspector.get_asset(asset_id)).custom_fields[CF_MODEL] == "Leak Sensor"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_interval_change_applies_without_restart(hass: HomeAssistant, rt_server, inspector):
    device = full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)

    flow = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {**entry.options, CONF_SYNC_INTERVAL: 1}
    )
    await settle(hass)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SYNC_INTERVAL] == 1
    asset_id = assets_of(entry).asset_id_for(device.id)
    await inspector.update_asset(asset_id, custom_fields={CF_MODEL: "edited in RT"})
    await fire_after(hass, timedelta(hours=1, seconds=1))

    assert (await inspector.get_asset(asset_id)).custom_fields[CF_MODEL] == "Leak Sensor"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_sync_assets_action_returns_report(hass: HomeAssistant, rt_server):
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(2)]
    add_device(hass, owner, "cloud", name="Cloud", entry_type=dr.DeviceEntryType.SERVICE)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)
    # The integration may add a service device of its own for the RT server.
    services = sum(
        device.entry_type is dr.DeviceEntryType.SERVICE for device in dr.async_get(hass).devices
    )
    dr.async_get(hass).async_update_device(devices[0].id, name_by_user="Renamed")

    one = await hass.services.async_call(
        DOMAIN,
        SERVICE_SYNC_ASSETS,
        {"device_id": devices[0].id},
        blocking=True,
        return_response=True,
    )
    every = await hass.services.async_call(
        DOMAIN, SERVICE_SYNC_ASSETS, {}, blocking=True, return_response=True
    )

    assert one == {
        "synced": 1,
        "failed": 0,
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "retired": 0,
        "duplicates": 0,
    }
    assert every == {
        "synced": 2,
        "failed": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "skipped": services,
        "retired": 0,
        "duplicates": 0,
    }
    await hass.config_entries.async_unload(entry.entry_id)


async def test_sync_assets_action_unknown_device(hass: HomeAssistant, rt_server):
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            SERVICE_SYNC_ASSETS,
            {"device_id": "0000000000000000000000000000dead"},
            blocking=True,
            return_response=True,
        )

    assert caught.value.translation_key == "device_not_found"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_entry_deletes_snapshot(hass: HomeAssistant, hass_storage, rt_server):
    full_device(hass, device_owner(hass), 1)
    entry = await setup_with_catalog(hass, rt_server)
    await settle(hass)
    key = f"{DOMAIN}.{entry.entry_id}.assets"

    await hass.config_entries.async_unload(entry.entry_id)
    saved_on_unload = key in hass_storage
    await hass.config_entries.async_remove(entry.entry_id)

    assert saved_on_unload
    assert key not in hass_storage
