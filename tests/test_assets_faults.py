"""Asset sync faults RT cannot produce on demand, injected by a proxy in front of the test RT."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING

import aiohttp
import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.exceptions import HomeAssistantError

from custom_components.ha_rt.assets import WRITE_CONCURRENCY
from custom_components.ha_rt.const import CONF_URL, DOMAIN, SERVICE_SYNC_ASSETS
from custom_components.ha_rt.rt import RTClient, RTConnectionError
from custom_components.ha_rt.services import async_setup_services

from .assets_fixtures import (
    Fault,
    FaultProxy,
    add_entry,
    asset_sync,
    device_owner,
    full_device,
    new_catalog,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def proxy(rt_server: RTServer) -> AsyncIterator[FaultProxy]:
    fault_proxy = FaultProxy(rt_server)
    fault_proxy.url = await fault_proxy.start()
    yield fault_proxy
    await fault_proxy.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def proxied_client(
    rt_server: RTServer, session: aiohttp.ClientSession, url: str, timeout: float = 10.0
) -> RTClient:
    return RTClient(session, url, rt_server.token, request_timeout=timeout)


def creates(proxy: FaultProxy) -> int:
    return proxy.requests.count("POST asset")


async def test_refused_write_fails_only_its_device(
    hass: HomeAssistant, rt_server, proxy, session, caplog
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(4)]
    client = proxied_client(rt_server, session, proxy.url)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync(devices[0].id)
    proxy.faults.append(Fault("POST", "asset", body=devices[2].id, status=400))

    with caplog.at_level(logging.WARNING):
        report = await sync.async_sync()

    assert report.created == 2
    assert report.unchanged == 1
    assert report.failed == 1
    assert sync.asset_id_for(devices[2].id) is None
    failures = [r.getMessage() for r in caplog.records if "Could not create" in r.getMessage()]
    assert len(failures) == 1
    assert devices[2].id in failures[0]
    assert catalog in failures[0]

    retried = await sync.async_sync()

    assert retried.created == 1
    assert retried.failed == 0


async def test_rt_unavailable_stops_remaining_writes(
    hass: HomeAssistant, rt_server, proxy, session
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(12)]
    client = proxied_client(rt_server, session, proxy.url)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync(devices[0].id)
    proxy.faults.append(Fault("POST", "asset", status=503, times=None))
    proxy.requests.clear()

    with pytest.raises(RTConnectionError):
        await sync.async_sync()

    assert 1 <= creates(proxy) <= WRITE_CONCURRENCY

    proxy.faults.clear()
    recovered = await sync.async_sync()

    assert recovered.created == 11
    assert recovered.unchanged == 1


async def test_write_timeout_heals_without_duplicate(
    hass: HomeAssistant, rt_server, proxy, session
):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(3)]
    client = proxied_client(rt_server, session, proxy.url, timeout=3.0)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync(devices[0].id)
    # RT creates the asset, but its response never reaches the client.
    proxy.faults.append(Fault("POST", "asset", body=devices[1].id, stall=True))

    report = await sync.async_sync()

    assert report.created == 1
    assert report.unchanged == 1
    assert report.failed == 1

    healed = await sync.async_sync()

    assert healed.created == 0
    assert healed.unchanged == 3
    assert sync.asset_id_for(devices[1].id) is not None


async def test_writes_run_with_bounded_concurrency(hass: HomeAssistant, rt_server, proxy, session):
    catalog = new_catalog(rt_server)
    owner = device_owner(hass)
    devices = [full_device(hass, owner, number) for number in range(10)]
    client = proxied_client(rt_server, session, proxy.url)
    sync = asset_sync(hass, add_entry(hass, rt_server, catalog), client)
    await sync.async_sync(devices[0].id)
    proxy.max_in_flight = 0

    report = await sync.async_sync()

    assert report.created == 9
    assert proxy.max_in_flight == WRITE_CONCURRENCY


@pytest.mark.parametrize(
    ("status", "translation_key"),
    [
        (401, "assets_invalid_auth"),
        (403, "assets_permission_denied"),
        (500, "assets_rt_error"),
        (503, "assets_cannot_connect"),
    ],
)
async def test_sync_action_translates_rt_errors(
    hass: HomeAssistant, rt_server, proxy, session, status, translation_key
):
    catalog = new_catalog(rt_server)
    full_device(hass, device_owner(hass), 1)
    entry = add_entry(hass, rt_server, catalog)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_URL: proxy.url})
    entry.mock_state(hass, ConfigEntryState.LOADED)
    client = proxied_client(rt_server, session, proxy.url)
    entry.runtime_data = SimpleNamespace(assets=asset_sync(hass, entry, client), session=session)
    async_setup_services(hass)
    proxy.faults.append(Fault("GET", "assets", status=status))

    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN, SERVICE_SYNC_ASSETS, {}, blocking=True, return_response=True
        )

    assert caught.value.translation_key == translation_key
    assert caught.value.translation_placeholders["url"] == proxy.url
    assert caught.value.translation_placeholders["target"] == "all devices"
    await hass.async_block_till_done()
    reauth = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == "reauth"
    ]
    assert len(reauth) == (1 if status == 401 else 0)
    entry.mock_state(hass, ConfigEntryState.NOT_LOADED)
