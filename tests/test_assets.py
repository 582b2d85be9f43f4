"""Asset sync against a real RT 5.0.3: full syncs, device syncs, snapshot, lifecycle."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import aiohttp
import pytest
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr

from custom_components.ha_rt.const import (
    ASSET_CUSTOM_FIELDS,
    CF_ADDRESS,
    CF_AREA,
    CF_CONFIGURATION_URL,
    CF_DEVICE_ID,
    CF_FIRMWARE_VERSION,
    CF_HARDWARE_VERSION,
    CF_MAC_ADDRESS,
    CF_MANUFACTURER,
    CF_MODEL,
    CF_SERIAL_NUMBER,
)

from .assets_fixtures import (
    ADDRESS,
    RequestLog,
    add_device,
    add_entry,
    asset_sync,
    counting_session,
    device_owner,
    full_device,
    new_catalog,
    rt_client,
)
from .entry_helpers import remove_custom_field

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from custom_components.ha_rt.rt import RTClient

    from .rt_server import RTServer


@pytest.fixture
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
async def client(
    rt_server: RTServer, socket_enabled: None, request_log: RequestLog
) -> AsyncIterator[RTClient]:
    """Return the client the asset sync uses; its requests land in request_log."""
    async with counting_session(request_log) as session:
        yield rt_client(rt_server, session)


@pytest.fixture
async def inspector(rt_server: RTServer, socket_enabled: None) -> AsyncIterator[RTClient]:
    """Return a client for checking RT's state, with its own session and a long timeout.

    Listing 100 assets with custom fields can take longer than 10 s on a busy machine.
    """
    async with aiohttp.ClientSession() as session:
        yield rt_client(rt_server, session, request_timeout=120.0)


async def catalog_assets(client: RTClient, catalog: str) -> dict[str, list]:
    """Return the catalog's assets (read with custom fields) by DeviceId."""
    by_device: dict[str, list] = {}
    for asset in await client.list_catalog_assets(catalog, with_custom_fields=True):
        assert asset.custom_fields is not None
        by_device.setdefault(asset.custom_fields.get(CF_DEVICE_ID, ""), []).append(asset)
    return by_device


async def test_full_sync_creates_assets_with_fields(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    area = ar.async_get(hass).async_create("Basement")
    devices = [full_device(hass, owner, number) for number in range(3)]
    dr.async_get(hass).async_update_device(devices[1].id, area_id=area.id, name_by_user="Leak 1")
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync()

    assert report.as_response() == {
        "synced": 3,
        "failed": 0,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "retired": 0,
        "duplicates": 0,
    }
    asset_id = sync.asset_id_for(devices[1].id)
    assert asset_id is not None
    asset = await client.get_asset(asset_id)
    assert asset.name == "Leak 1"
    assert asset.status == "in-use"
    assert asset.custom_fields == {
        CF_DEVICE_ID: devices[1].id,
        CF_MANUFACTURER: "Acme",
        CF_MODEL: "Leak Sensor",
        CF_SERIAL_NUMBER: "SN-00001",
        CF_FIRMWARE_VERSION: "1.2.3",
        CF_HARDWARE_VERSION: "rev B",
        CF_CONFIGURATION_URL: "http://sensor-1.invalid/",
        CF_MAC_ADDRESS: "02:00:00:00:00:01",
        CF_AREA: "Basement",
        CF_ADDRESS: ADDRESS,
    }


async def test_full_sync_250_devices_acceptance(
    hass: HomeAssistant, rt_server, client, inspector, request_log
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    registry = dr.async_get(hass)
    devices = [full_device(hass, owner, number) for number in range(250)]
    service = add_device(
        hass, owner, "cloud", name="Weather service", entry_type=dr.DeviceEntryType.SERVICE
    )
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    first = await sync.async_sync()

    assert first.created == 250
    assert first.skipped == 1
    assert first.failed == 0
    assets = await catalog_assets(inspector, catalog)
    assert len(assets) == 250
    assert service.id not in assets

    request_log.clear()
    second = await sync.async_sync()

    assert request_log.writes() == []
    assert len(request_log) <= math.ceil(250 / 100) + 2
    assert second.unchanged == 250
    assert second.synced == 250

    area = ar.async_get(hass).async_create("Boiler room")
    registry.async_update_device(devices[7].id, name_by_user="Boiler leak sensor")
    registry.async_update_device(devices[42].id, area_id=area.id)
    request_log.clear()
    third = await sync.async_sync()

    assert third.updated == 2
    assert third.unchanged == 248
    assert [method for method, _ in request_log.writes()] == ["PUT", "PUT"]
    renamed = await client.get_asset(sync.asset_id_for(devices[7].id))
    assert renamed.name == "Boiler leak sensor"
    moved = await client.get_asset(sync.asset_id_for(devices[42].id))
    assert moved.custom_fields[CF_AREA] == "Boiler room"

    removed_asset_id = sync.asset_id_for(devices[99].id)
    registry.async_remove_device(devices[99].id)
    fourth = await sync.async_sync()

    assert fourth.retired == 1
    assert fourth.synced == 249
    retired = await client.get_asset(removed_asset_id)
    assert retired.status == "recycled"


async def test_asset_edited_in_rt_is_put_back(hass: HomeAssistant, rt_server, client, request_log):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(5)]
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync()
    asset_id = sync.asset_id_for(devices[3].id)
    await client.update_asset(asset_id, name="Renamed in RT", custom_fields={CF_MODEL: "edited"})

    request_log.clear()
    report = await sync.async_sync()

    assert report.updated == 1
    assert report.unchanged == 4
    assert request_log.methods()["PUT"] == 1
    asset = await client.get_asset(asset_id)
    assert asset.name == "Sensor 3"
    assert asset.custom_fields[CF_MODEL] == "Leak Sensor"


async def test_duplicate_assets_keep_lowest_id(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    first = await client.create_asset(catalog, "Copy 1", {CF_DEVICE_ID: device.id}, "in-use")
    second = await client.create_asset(catalog, "Copy 2", {CF_DEVICE_ID: device.id}, "allocated")
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync()

    assert report.duplicates == 1
    assert report.retired == 1
    assert report.updated == 1
    assert sync.asset_id_for(device.id) == first
    assert (await client.get_asset(first)).status == "in-use"
    assert (await client.get_asset(first)).name == "Sensor 1"
    assert (await client.get_asset(second)).status == "recycled"

    again = await sync.async_sync()

    assert again.duplicates == 0
    assert again.unchanged == 1


async def test_active_asset_wins_over_lower_retired_one(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    retired = await client.create_asset(catalog, "Old", {CF_DEVICE_ID: device.id}, "in-use")
    await client.update_asset(retired, status="recycled")
    active = await client.create_asset(catalog, "New", {CF_DEVICE_ID: device.id}, "in-use")
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync()

    assert report.duplicates == 0
    assert report.updated == 1
    assert sync.asset_id_for(device.id) == active
    assert (await client.get_asset(retired)).status == "recycled"


async def test_returning_device_reactivates_asset(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    device = full_device(hass, owner, 1)
    registry = dr.async_get(hass)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync()
    asset_id = sync.asset_id_for(device.id)

    registry.async_remove_device(device.id)
    removed = await sync.async_sync()
    restored_device = full_device(hass, owner, 1)
    restored = await sync.async_sync()

    assert removed.retired == 1
    assert restored_device.id == device.id
    assert restored.updated == 1
    assert restored.created == 0
    assert (await client.get_asset(asset_id)).status == "in-use"


async def test_new_asset_of_unknown_device_is_retired(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    orphan = await client.create_asset(catalog, "Gone", {CF_DEVICE_ID: "0123456789abcdef"})
    by_hand = await client.create_asset(catalog, "Printer", {CF_MODEL: "LaserJet"})
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync()

    assert report.retired == 1
    assert (await client.get_asset(orphan)).status == "recycled"
    assert (await client.get_asset(by_hand)).status == "new"


async def test_device_turned_service_retires_asset(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync()
    asset_id = sync.asset_id_for(device.id)

    dr.async_get(hass).async_update_device(device.id, entry_type=dr.DeviceEntryType.SERVICE)
    report = await sync.async_sync()

    assert report.skipped == 1
    assert report.retired == 1
    assert (await client.get_asset(asset_id)).status == "recycled"


async def test_device_without_fields_syncs_empty(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = add_device(hass, device_owner(hass), "bare")
    # The registry names a new device after its config entry; a device can still lose it.
    dr.async_get(hass).async_update_device(device.id, name=None)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync()

    assert report.created == 1
    asset = await client.get_asset(sync.asset_id_for(device.id))
    assert asset.name == ""
    assert asset.custom_fields == {
        **dict.fromkeys(ASSET_CUSTOM_FIELDS, ""),
        CF_DEVICE_ID: device.id,
        CF_AREA: "",
        CF_ADDRESS: ADDRESS,
    }
    assert (await sync.async_sync()).unchanged == 1


async def test_cleared_device_field_is_cleared_in_rt(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync()

    dr.async_get(hass).async_update_device(device.id, manufacturer=None, sw_version=None)
    report = await sync.async_sync()

    assert report.updated == 1
    asset = await client.get_asset(sync.asset_id_for(device.id))
    assert asset.custom_fields[CF_MANUFACTURER] == ""
    assert asset.custom_fields[CF_FIRMWARE_VERSION] == ""
    assert (await sync.async_sync()).unchanged == 1


@pytest.mark.parametrize(
    "text",
    [
        'Küche "Spüle" \\ Sensor ✓',
        "back\\\\slashes\\",
        "'single' and \"double\" quotes",
        "  leading and trailing spaces  ",
        "日本語のセンサー",
    ],
)
async def test_special_characters_round_trip(hass: HomeAssistant, rt_server, client, text):
    catalog = new_catalog(rt_server)
    device = add_device(
        hass, device_owner(hass), "special", name=text, manufacturer=text, model=text
    )
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    await sync.async_sync()

    asset = await client.get_asset(sync.asset_id_for(device.id))
    assert asset.name == text
    assert asset.custom_fields[CF_MANUFACTURER] == text
    assert asset.custom_fields[CF_MODEL] == text
    assert (await sync.async_sync()).unchanged == 1
    assert (await sync.async_sync(device.id)).unchanged == 1


async def test_snapshot_survives_restart(hass: HomeAssistant, rt_server, client, request_log):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    for number in range(4):
        full_device(hass, owner, number)
    entry = add_entry(hass, rt_server, catalog)
    first = asset_sync(hass, entry, client)
    await first.async_sync()
    await first.async_stop()

    request_log.clear()
    restarted = asset_sync(hass, entry, client)
    report = await restarted.async_sync()

    assert report.unchanged == 4
    assert request_log.writes() == []
    assert len(request_log) <= 2


async def test_lost_snapshot_reads_custom_fields(
    hass: HomeAssistant, hass_storage, rt_server, client, request_log
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(4)]
    entry = add_entry(hass, rt_server, catalog)
    first = asset_sync(hass, entry, client)
    await first.async_sync()
    await first.async_stop()
    hass_storage.pop(f"ha_rt.{entry.entry_id}.assets")

    request_log.clear()
    restarted = asset_sync(hass, entry, client)
    report = await restarted.async_sync()

    assert report.unchanged == 4
    assert request_log.writes() == []
    assert request_log.methods()["GET"] >= 2
    assert restarted.asset_id_for(devices[2].id) == first.asset_id_for(devices[2].id)


async def test_snapshot_of_other_catalog_is_ignored(hass: HomeAssistant, rt_server, client):
    owner = device_owner(hass)
    device = full_device(hass, owner, 1)
    entry = add_entry(hass, rt_server, new_catalog(rt_server))
    first = asset_sync(hass, entry, client)
    await first.async_sync()
    await first.async_stop()

    second_catalog = new_catalog(rt_server)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "catalog": second_catalog}
    )
    moved = asset_sync(hass, entry, client)
    report = await moved.async_sync()

    assert report.created == 1
    assert moved.asset_id_for(device.id) != first.asset_id_for(device.id)


async def test_catalog_without_area_and_address(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server, custom_fields=list(ASSET_CUSTOM_FIELDS))
    owner = device_owner(hass)
    area = ar.async_get(hass).async_create("Attic")
    device = full_device(hass, owner, 1)
    dr.async_get(hass).async_update_device(device.id, area_id=area.id)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    await sync.async_sync()

    asset = await client.get_asset(sync.asset_id_for(device.id))
    assert CF_AREA not in asset.custom_fields
    assert CF_ADDRESS not in asset.custom_fields
    assert (await sync.async_sync()).unchanged == 1


async def test_catalog_without_device_id_field(hass: HomeAssistant, rt_server, client):
    fields = [name for name in ASSET_CUSTOM_FIELDS if name != CF_DEVICE_ID]
    catalog = new_catalog(rt_server, custom_fields=fields)
    owner = device_owner(hass)
    for number in range(3):
        full_device(hass, owner, number)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    with pytest.raises(HomeAssistantError) as caught:
        await sync.async_sync()

    # RT 5.0.3 rejects a create naming a custom field that exists but is not applied to
    # the catalog, so the first create fails and nothing is created.
    assert caught.value.translation_key == "assets_first_asset_failed"
    assert caught.value.translation_placeholders["catalog"] == catalog
    assert "does not apply" in caught.value.translation_placeholders["error"]
    assert await client.list_catalog_assets(catalog, with_custom_fields=False) == []


async def test_catalog_losing_device_id_field(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    full_device(hass, device_owner(hass), 1)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync()
    remove_custom_field(rt_server, "catalog", catalog, CF_DEVICE_ID)

    with pytest.raises(HomeAssistantError) as caught:
        await sync.async_sync()

    assert caught.value.translation_key == "assets_device_id_field_missing"
    assert caught.value.translation_placeholders == {"catalog": catalog, "field": CF_DEVICE_ID}


async def test_device_sync_touches_only_that_device(
    hass: HomeAssistant, rt_server, client, request_log
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(3)]
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync(devices[1].id)

    assert report.created == 1
    assert report.synced == 1
    assets = await client.list_catalog_assets(catalog, with_custom_fields=True)
    assert [asset.custom_fields[CF_DEVICE_ID] for asset in assets] == [devices[1].id]

    request_log.clear()
    again = await sync.async_sync(devices[1].id)

    assert again.unchanged == 1
    assert request_log.writes() == []
    assert len(request_log) == 1


async def test_device_sync_of_service_device_skips(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    service = add_device(
        hass, device_owner(hass), "cloud", name="Cloud", entry_type=dr.DeviceEntryType.SERVICE
    )
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync(service.id)

    assert report.skipped == 1
    assert report.synced == 0
    assert await client.list_catalog_assets(catalog, with_custom_fields=False) == []


async def test_device_sync_of_unknown_device(hass: HomeAssistant, rt_server, client):
    sync = asset_sync(hass, add_entry(hass, rt_server, new_catalog(rt_server)), client)

    with pytest.raises(ServiceValidationError) as caught:
        await sync.async_sync("0000000000000000000000000000dead")

    assert caught.value.translation_key == "device_not_found"


async def test_device_sync_retires_asset_of_removed_device(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    gone_id = "0123456789abcdef0123456789abcdef"
    asset_id = await client.create_asset(catalog, "Gone", {CF_DEVICE_ID: gone_id}, "in-use")
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    report = await sync.async_sync(gone_id)

    assert report.retired == 1
    assert (await client.get_asset(asset_id)).status == "recycled"


async def test_find_asset_id_uses_map_then_search(
    hass: HomeAssistant, rt_server, client, request_log
):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    other = "ffffffffffffffffffffffffffffffff"
    asset_id = await client.create_asset(catalog, "Sensor 1", {CF_DEVICE_ID: device.id}, "in-use")
    entry = add_entry(hass, rt_server, catalog)
    sync = asset_sync(hass, entry, client)

    request_log.clear()
    found_before_sync = await sync.async_find_asset_id(device.id)
    searches = len(request_log)
    missing = await sync.async_find_asset_id(other)
    await sync.async_sync()
    request_log.clear()
    found_after_sync = await sync.async_find_asset_id(device.id)

    assert found_before_sync == asset_id
    assert searches == 1
    assert missing is None
    assert sync.asset_id_for(device.id) == asset_id
    assert found_after_sync == asset_id
    assert len(request_log) == 0


async def test_device_id_match_is_exact(hass: HomeAssistant, rt_server, client):
    catalog = new_catalog(rt_server)
    device = full_device(hass, device_owner(hass), 1)
    # RT compares custom fields case-insensitively; a hand-typed upper-case copy of the
    # id is another device's asset as far as the sync is concerned.
    upper = await client.create_asset(catalog, "Copy", {CF_DEVICE_ID: device.id.upper()})
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)

    assert await sync.async_find_asset_id(device.id) is None

    report = await sync.async_sync(device.id)

    assert report.created == 1
    assert sync.asset_id_for(device.id) != upper
