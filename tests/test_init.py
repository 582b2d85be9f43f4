"""Tests for config entry setup and unload against the test RT."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE

from custom_components.ha_rt import runtime
from custom_components.ha_rt.assets import AssetSync
from custom_components.ha_rt.const import (
    CONF_ALLOW_PRIVATE_NETWORK,
    CONF_CATALOG,
    CONF_QUEUE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
)
from custom_components.ha_rt.rt import RTAPIError, RTClient, RTPermissionError
from custom_components.ha_rt.tickets import TicketManager

from .entry_helpers import create_token_without_rights, rt_config_entry, trust_rt_certificate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aiohttp import ClientSession
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from .rt_server import RTServer

pytestmark = pytest.mark.usefixtures("socket_enabled")

WRONG_TOKEN = "1-2-0123456789abcdef0123456789abcdef"  # noqa: S105


@pytest.fixture
def sessions() -> Iterator[list[ClientSession]]:
    """Record every RT session that entry setup creates."""
    created: list[ClientSession] = []

    def create_and_record(*args: Any, **kwargs: Any) -> ClientSession:
        session = real_create(*args, **kwargs)
        created.append(session)
        return session

    real_create = runtime.create_rt_session
    with patch.object(runtime, "create_rt_session", create_and_record):
        yield created


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


async def test_setup_entry_loads_and_unloads(
    hass: HomeAssistant, trusted_rt: RTServer, sessions: list[ClientSession]
) -> None:
    entry = rt_config_entry(trusted_rt)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data.tickets, TicketManager)
    assert isinstance(entry.runtime_data.assets, AssetSync)
    assert entry.runtime_data.session is sessions[0]
    assert str(entry.runtime_data.client.rest_url) == f"{trusted_rt.url}/REST/2.0/"

    assert await hass.config_entries.async_unload(entry.entry_id)

    assert entry.state is ConfigEntryState.NOT_LOADED
    assert sessions[0].closed


async def test_setup_entry_rejected_token_starts_reauth(
    hass: HomeAssistant, trusted_rt: RTServer, sessions: list[ClientSession]
) -> None:
    entry = rt_config_entry(trusted_rt, token=WRONG_TOKEN)

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "setup_invalid_auth"
    assert len(reauth_flows(hass)) == 1
    assert sessions[0].closed


@pytest.mark.parametrize(
    ("case", "translation_key"),
    [
        ("nothing_listening", "setup_cannot_connect"),
        ("untrusted_certificate", "setup_cannot_connect"),
        ("local_network_not_allowed", "setup_invalid_url"),
        ("plain_http_url", "setup_invalid_url"),
        ("path_without_rt", "setup_not_rt_server"),
        ("unknown_queue", "setup_queue_not_found"),
        ("token_without_rights", "setup_queue_not_found"),
        ("unknown_catalog", "setup_catalog_not_found"),
        ("forbidden_server_info", "setup_invalid_auth"),
        ("server_error", "setup_rt_error"),
    ],
)
async def test_setup_entry_failure_retries(
    hass: HomeAssistant,
    rt_server: RTServer,
    sessions: list[ClientSession],
    case: str,
    translation_key: str,
) -> None:
    changes: dict[str, dict[str, Any]] = {
        "nothing_listening": {CONF_URL: "https://127.0.0.1:9"},
        "local_network_not_allowed": {CONF_ALLOW_PRIVATE_NETWORK: False},
        "plain_http_url": {CONF_URL: rt_server.url.replace("https://", "http://")},
        "path_without_rt": {CONF_URL: f"{rt_server.url}/no/rt/here"},
        "unknown_queue": {CONF_QUEUE: "No such queue"},
        "token_without_rights": {CONF_TOKEN: create_token_without_rights(rt_server)},
        "unknown_catalog": {CONF_CATALOG: "No such catalog"},
    }
    faults: dict[str, tuple[str, Exception]] = {
        "forbidden_server_info": ("get_server_info", RTPermissionError("403")),
        "server_error": ("get_catalog", RTAPIError("500", status=500)),
    }
    entry = rt_config_entry(rt_server, **changes.get(case, {}))

    with contextlib.ExitStack() as stack:
        if case != "untrusted_certificate":
            stack.enter_context(trust_rt_certificate(rt_server))
        if case in faults:
            method, error = faults[case]
            stack.enter_context(patch.object(RTClient, method, side_effect=error))
        await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == translation_key
    assert reauth_flows(hass) == []
    # A stored URL that fails the syntax or address check stops setup before a session opens.
    assert len(sessions) == (0 if translation_key == "setup_invalid_url" else 1)
    assert all(session.closed for session in sessions)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_setup_entry_retry_message_names_queue(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    entry = rt_config_entry(trusted_rt, queue="No such queue")

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "No such queue" in entry.reason
    assert trusted_rt.url in entry.reason
    assert trusted_rt.token not in entry.reason
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_session_closed_when_home_assistant_closes(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    entry = rt_config_entry(trusted_rt)
    await setup_entry(hass, entry)
    session = entry.runtime_data.session

    hass.bus.async_fire(EVENT_HOMEASSISTANT_CLOSE)
    await hass.async_block_till_done()

    assert session.closed
    assert await hass.config_entries.async_unload(entry.entry_id)
