"""Tests for the config flow: user, reauth, reconfigure and options steps.

The happy paths and every error RT can produce run against the real test RT. Errors RT
cannot produce (a timeout, HTTP 404 for a queue as newer RT releases send, a crash) come
from patching one client method while the other requests still go to RT.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.data_entry_flow import FlowResultType

from custom_components.ha_rt.const import (
    CONF_ADDRESS,
    CONF_ALLOW_PRIVATE_NETWORK,
    CONF_CATALOG,
    CONF_HA_URL,
    CONF_OUTBOX_ENABLED,
    CONF_OUTBOX_MAX_AGE,
    CONF_OUTBOX_MAX_PENDING,
    CONF_QUEUE,
    CONF_SYNC_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    CONF_VERIFY_SSL,
    DEFAULT_OUTBOX_MAX_AGE_HOURS,
    DEFAULT_OUTBOX_MAX_PENDING,
    DOMAIN,
    TICKET_CUSTOM_FIELDS,
)
from custom_components.ha_rt.net import BlockedAddressError
from custom_components.ha_rt.rt import (
    RTAPIError,
    RTAuthenticationError,
    RTClient,
    RTConnectionError,
    RTInvalidResponseError,
    RTNotFoundError,
    RTPermissionError,
    RTTimeoutError,
)
from custom_components.ha_rt.validation import CheckFailure, config_entry_unique_id

from .entry_helpers import (
    ADDRESS,
    HA_URL,
    apply_custom_field,
    create_catalog,
    create_queue,
    create_token_without_rights,
    flow_input,
    remove_custom_field,
    rt_config_entry,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from .rt_server import RTServer

TRANSLATIONS = Path(__file__).parent.parent / "custom_components/ha_rt/translations/en.json"
# Shaped like an RT 5 auth token (format version, user id, 32 hex digits) but unknown to RT.
WRONG_TOKEN = "1-2-0123456789abcdef0123456789abcdef"  # noqa: S105


@pytest.fixture
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Replace entry setup and unload, so an entry loads without talking to RT."""
    with (
        patch("custom_components.ha_rt.async_setup_entry", return_value=True) as mock,
        patch("custom_components.ha_rt.async_unload_entry", return_value=True),
    ):
        yield mock


def closed_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def start_user_flow(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return dict(result)


async def submit(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(flow_id, user_input))


async def start_options_flow(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    return dict(result)


async def submit_options(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]
) -> dict[str, Any]:
    return dict(await hass.config_entries.options.async_configure(flow_id, user_input))


# --- User step ---------------------------------------------------------------------------


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_creates_entry(hass: HomeAssistant, trusted_rt: RTServer) -> None:
    result = await start_user_flow(hass)

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"{trusted_rt.queue} (127.0.0.1)"
    assert result["data"] == {
        CONF_URL: trusted_rt.url,
        CONF_TOKEN: trusted_rt.token,
        CONF_QUEUE: trusted_rt.queue,
        CONF_ALLOW_PRIVATE_NETWORK: True,
        CONF_VERIFY_SSL: True,
    }
    assert result["options"] == {
        CONF_CATALOG: trusted_rt.catalog,
        CONF_HA_URL: HA_URL,
        CONF_ADDRESS: ADDRESS,
        CONF_SYNC_INTERVAL: 6,
        CONF_OUTBOX_ENABLED: True,
        CONF_OUTBOX_MAX_PENDING: DEFAULT_OUTBOX_MAX_PENDING,
        CONF_OUTBOX_MAX_AGE: DEFAULT_OUTBOX_MAX_AGE_HOURS,
    }
    assert result["result"].unique_id == f"{trusted_rt.url}|{trusted_rt.queue}"


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_optional_fields_empty(hass: HomeAssistant, trusted_rt: RTServer) -> None:
    result = await start_user_flow(hass)
    user_input = flow_input(trusted_rt, **{CONF_SYNC_INTERVAL: 24.0})
    del user_input[CONF_HA_URL]
    del user_input[CONF_ADDRESS]

    result = await submit(hass, result["flow_id"], user_input)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_HA_URL] == ""
    assert result["options"][CONF_ADDRESS] == ""
    assert result["options"][CONF_SYNC_INTERVAL] == 24


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_normalizes_urls(hass: HomeAssistant, trusted_rt: RTServer) -> None:
    result = await start_user_flow(hass)
    typed_url = trusted_rt.url.replace("https://", "HTTPS://") + "/REST/2.0/"

    result = await submit(
        hass,
        result["flow_id"],
        flow_input(trusted_rt, **{CONF_URL: f"  {typed_url}", CONF_HA_URL: f"{HA_URL}/"}),
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == trusted_rt.url
    assert result["options"][CONF_HA_URL] == HA_URL


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("plain_http", "invalid_url"),
        ("local_network_not_allowed", "invalid_url"),
        ("nothing_listening", "cannot_connect"),
        ("path_without_rt", "not_rt_server"),
        ("wrong_token", "invalid_auth"),
        ("unknown_queue", "queue_not_found"),
        ("queue_without_rights", "queue_not_found"),
        ("unknown_catalog", "catalog_not_found"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_rt_errors_recover(
    hass: HomeAssistant, trusted_rt: RTServer, case: str, error: str
) -> None:
    overrides: dict[str, dict[str, Any]] = {
        "plain_http": {CONF_URL: trusted_rt.url.replace("https://", "http://")},
        "local_network_not_allowed": {CONF_ALLOW_PRIVATE_NETWORK: False},
        "nothing_listening": {CONF_URL: f"https://127.0.0.1:{closed_port()}"},
        "path_without_rt": {CONF_URL: f"{trusted_rt.url}/no/rt/here"},
        "wrong_token": {CONF_TOKEN: WRONG_TOKEN},
        "unknown_queue": {CONF_QUEUE: "No such queue"},
        "queue_without_rights": {CONF_TOKEN: create_token_without_rights(trusted_rt)},
        "unknown_catalog": {CONF_CATALOG: "No such catalog"},
    }
    result = await start_user_flow(hass)

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt, **overrides[case]))

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry", "socket_enabled")
async def test_user_step_untrusted_certificate(hass: HomeAssistant, rt_server: RTServer) -> None:
    # Without trust_rt_certificate, Home Assistant's SSL context rejects the test RT's
    # self-signed certificate, until the user turns verification off.
    result = await start_user_flow(hass)

    result = await submit(hass, result["flow_id"], flow_input(rt_server))

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    result = await submit(
        hass, result["flow_id"], flow_input(rt_server, **{CONF_VERIFY_SSL: False})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERIFY_SSL] is False


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_removed_ticket_custom_field(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    queue = create_queue(trusted_rt)
    remove_custom_field(trusted_rt, "queue", queue, "Area")
    result = await start_user_flow(hass)

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt, **{CONF_QUEUE: queue}))

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "missing_custom_fields"}
    assert result["description_placeholders"]["missing_custom_fields"] == f"{queue}: Area"

    apply_custom_field(trusted_rt, "queue", queue, "Area")
    result = await submit(hass, result["flow_id"], flow_input(trusted_rt, **{CONF_QUEUE: queue}))

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_missing_custom_fields_listed(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    queue = create_queue(trusted_rt, ["Device Information", "Area"])
    catalog = create_catalog(trusted_rt, ["DeviceId", "Manufacturer", "Model", "Serial Number"])
    result = await start_user_flow(hass)

    result = await submit(
        hass,
        result["flow_id"],
        flow_input(trusted_rt, **{CONF_QUEUE: queue, CONF_CATALOG: catalog}),
    )

    assert result["errors"] == {"base": "missing_custom_fields"}
    assert result["description_placeholders"]["missing_custom_fields"] == (
        f"{queue}: DeviceId, Address; {catalog}: Firmware Version, Hardware Version, "
        "Configuration URL, MAC Address"
    )

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_accepts_catalog_without_assets(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    # RT 5.0.3 shows the custom fields of a catalog without assets only to users with
    # SeeCustomField granted globally, so such a catalog cannot be checked yet.
    catalog = create_catalog(trusted_rt, with_asset=False)
    result = await start_user_flow(hass)

    result = await submit(
        hass, result["flow_id"], flow_input(trusted_rt, **{CONF_CATALOG: catalog})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("method", "exception", "error"),
    [
        ("get_server_info", RTTimeoutError("timed out"), "cannot_connect"),
        (
            "get_server_info",
            BlockedAddressError("rebound", host="rt.example.test", address=None),
            "invalid_url",
        ),
        ("get_server_info", RTPermissionError("403"), "invalid_auth"),
        ("get_server_info", RTNotFoundError("404"), "not_rt_server"),
        ("get_server_info", RTInvalidResponseError("HTML"), "not_rt_server"),
        ("get_server_info", RTAPIError("302", status=302), "not_rt_server"),
        ("get_server_info", RTAPIError("500", status=500), "unknown"),
        ("get_queue", RTNotFoundError("404"), "queue_not_found"),
        ("get_queue", RTPermissionError("403"), "queue_not_found"),
        ("get_queue", RTAuthenticationError("401"), "invalid_auth"),
        ("get_queue", RTConnectionError("reset"), "cannot_connect"),
        ("get_queue", RTInvalidResponseError("shape"), "unknown"),
        ("get_catalog", RTNotFoundError("404"), "catalog_not_found"),
        ("get_catalog", RTPermissionError("403"), "catalog_not_found"),
        ("get_catalog", RTAPIError("500", status=500), "unknown"),
        ("get_catalog", RuntimeError("bug"), "unknown"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_client_errors_recover(
    hass: HomeAssistant, trusted_rt: RTServer, method: str, exception: Exception, error: str
) -> None:
    result = await start_user_flow(hass)

    with patch.object(RTClient, method, side_effect=exception):
        result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_unknown_error_logged(
    hass: HomeAssistant, trusted_rt: RTServer, caplog: pytest.LogCaptureFixture
) -> None:
    result = await start_user_flow(hass)

    with patch.object(RTClient, "get_queue", side_effect=RuntimeError("bug in the client")):
        result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["errors"] == {"base": "unknown"}
    records = [record for record in caplog.records if record.name == "custom_components.ha_rt"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    assert "bug in the client" in str(records[0].exc_info[1])


@pytest.mark.parametrize(
    "ha_url",
    [
        "homeassistant.local:8123",
        "ftp://homeassistant.local",
        "http://",
        "not a url",
        "http://[::1",
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_invalid_ha_url_recovers(
    hass: HomeAssistant, trusted_rt: RTServer, ha_url: str
) -> None:
    result = await start_user_flow(hass)

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt, **{CONF_HA_URL: ha_url}))

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_HA_URL: "invalid_ha_url"}

    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))

    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_same_server_and_queue_aborts(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    rt_config_entry(trusted_rt).add_to_hass(hass)
    result = await start_user_flow(hass)
    same_server = trusted_rt.url.replace("https://", "HTTPS://") + "/"

    with patch.object(RTClient, "get_server_info") as get_server_info:
        result = await submit(
            hass, result["flow_id"], flow_input(trusted_rt, **{CONF_URL: same_server})
        )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    get_server_info.assert_not_called()


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_parallel_flow_aborts(hass: HomeAssistant, trusted_rt: RTServer) -> None:
    first = await start_user_flow(hass)
    first = await submit(
        hass, first["flow_id"], flow_input(trusted_rt, **{CONF_TOKEN: WRONG_TOKEN})
    )
    assert first["errors"] == {"base": "invalid_auth"}
    second = await start_user_flow(hass)

    second = await submit(hass, second["flow_id"], flow_input(trusted_rt))

    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_step_same_server_other_queue(hass: HomeAssistant, trusted_rt: RTServer) -> None:
    rt_config_entry(trusted_rt).add_to_hass(hass)
    other_queue = create_queue(trusted_rt)
    result = await start_user_flow(hass)

    result = await submit(
        hass, result["flow_id"], flow_input(trusted_rt, **{CONF_QUEUE: other_queue})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


# --- Unsafe URLs -------------------------------------------------------------------------

# Addresses the patched resolver returns. A name not listed here does not resolve. Nothing
# in these tests reaches a real resolver or opens a socket, because pytest-socket stays on.
FAKE_DNS: dict[str, list[str]] = {
    "metadata-alias.example.test": ["169.254.169.254"],
    "lan-alias.example.test": ["10.20.30.40"],
    "loopback-alias.example.test": ["127.0.0.1"],
    "mixed-answer.example.test": ["93.184.215.14", "192.168.1.10"],
    "ipv6-ula.example.test": ["fd12:3456:789a::1"],
    "cgnat.example.test": ["100.64.1.1"],
}

UNSAFE_URLS: list[tuple[str, bool]] = [
    # (URL, allow_private_network); each is refused before a socket opens.
    ("http://rt.example.test", False),
    ("ftp://rt.example.test", False),
    ("rt.example.test", False),
    ("//rt.example.test", False),
    ("https://", False),
    ("https://user:secret@rt.example.test", False),
    ("https://rt.example.test/?token=x", False),
    ("https://rt.example.test/#fragment", False),
    ("https://rt.example.test:0", False),
    ("https://169.254.169.254", True),
    ("https://[fd00:ec2::254]", True),
    ("https://metadata.google.internal", True),
    ("https://metadata", True),
    ("https://127.0.0.1", False),
    ("https://[::1]", False),
    ("https://localhost", False),
    ("https://10.0.0.1", False),
    ("https://192.168.1.1", False),
    ("https://172.16.0.1", False),
    ("https://100.64.0.1", False),
    ("https://169.254.1.1", False),
    ("https://[fe80::1]", False),
    ("https://[fc00::1]", False),
    ("https://[::ffff:127.0.0.1]", False),
    ("https://0.0.0.0", True),
    ("https://224.0.0.1", True),
    ("https://2130706433", False),
    ("https://0x7f.1", False),
    ("https://0177.0.0.1", False),
    ("https://127.1", False),
    ("https://nas.local", False),
    ("https://rt.home.arpa", False),
    ("https://rt.internal", False),
    ("https://metadata-alias.example.test", True),
    ("https://lan-alias.example.test", False),
    ("https://loopback-alias.example.test", False),
    ("https://mixed-answer.example.test", False),
    ("https://ipv6-ula.example.test", False),
    ("https://cgnat.example.test", False),
    ("https://[::]", True),
    ("https://[::ffff:169.254.169.254]", True),
]


async def _fake_resolve(
    _resolver: object, host: str, port: int = 0, family: int = socket.AF_INET
) -> list[dict[str, Any]]:
    if host not in FAKE_DNS:
        raise OSError(f"{host} does not resolve in this test")
    return [
        {
            "hostname": host,
            "host": address,
            "port": port,
            "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
            "proto": 0,
            "flags": socket.AI_NUMERICHOST,
        }
        for address in FAKE_DNS[host]
    ]


@pytest.mark.parametrize(("url", "allow_private_network"), UNSAFE_URLS)
async def test_user_step_unsafe_url_rejected(
    hass: HomeAssistant, rt_server: RTServer, url: str, allow_private_network: bool
) -> None:
    result = await start_user_flow(hass)
    user_input = flow_input(
        rt_server, **{CONF_URL: url, CONF_ALLOW_PRIVATE_NETWORK: allow_private_network}
    )

    with (
        patch("aiohttp.resolver.ThreadedResolver.resolve", _fake_resolve),
        patch.object(RTClient, "get_server_info") as get_server_info,
    ):
        result = await submit(hass, result["flow_id"], user_input)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_url"}
    get_server_info.assert_not_called()


async def test_user_step_unresolvable_name(hass: HomeAssistant, rt_server: RTServer) -> None:
    result = await start_user_flow(hass)
    user_input = flow_input(rt_server, **{CONF_URL: "https://no-such-name.example.test"})

    with (
        patch("aiohttp.resolver.ThreadedResolver.resolve", _fake_resolve),
        patch.object(RTClient, "get_server_info") as get_server_info,
    ):
        result = await submit(hass, result["flow_id"], user_input)

    assert result["errors"] == {"base": "cannot_connect"}
    get_server_info.assert_not_called()


# --- Token never logged ------------------------------------------------------------------


async def test_flow_does_not_log_token(
    hass: HomeAssistant, trusted_rt: RTServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = await start_user_flow(hass)

    result = await submit(
        hass, result["flow_id"], flow_input(trusted_rt, **{CONF_TOKEN: WRONG_TOKEN})
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, result["flow_id"], flow_input(trusted_rt))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)

    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert "Check of RT server" in logged
    assert WRONG_TOKEN not in logged
    assert trusted_rt.token not in logged
    assert trusted_rt.token.rsplit("-", 1)[-1] not in logged


# --- Reauthentication --------------------------------------------------------------------


async def _loaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_reauth_flow_replaces_token(
    hass: HomeAssistant, trusted_rt: RTServer, mock_setup_entry: AsyncMock
) -> None:
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt, token=WRONG_TOKEN))

    result = dict(await entry.start_reauth_flow(hass))

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["url"] == trusted_rt.url
    assert result["description_placeholders"]["queue"] == trusted_rt.queue

    result = await submit(hass, result["flow_id"], {CONF_TOKEN: WRONG_TOKEN})

    assert result["errors"] == {"base": "invalid_auth"}

    # A token that RT accepts but whose user may not see the queue is not "invalid".
    result = await submit(
        hass, result["flow_id"], {CONF_TOKEN: create_token_without_rights(trusted_rt)}
    )

    assert result["errors"] == {"base": "queue_not_found"}

    result = await submit(hass, result["flow_id"], {CONF_TOKEN: trusted_rt.token})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == trusted_rt.token
    assert entry.data[CONF_URL] == trusted_rt.url
    assert mock_setup_entry.call_count == 2


@pytest.mark.parametrize(
    ("method", "exception", "error"),
    [
        ("get_server_info", RTConnectionError("refused"), "cannot_connect"),
        ("get_catalog", RTPermissionError("403"), "catalog_not_found"),
        ("get_server_info", RuntimeError("bug"), "unknown"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reauth_flow_errors_recover(
    hass: HomeAssistant, trusted_rt: RTServer, method: str, exception: Exception, error: str
) -> None:
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt))
    result = dict(await entry.start_reauth_flow(hass))

    with patch.object(RTClient, method, side_effect=exception):
        result = await submit(hass, result["flow_id"], {CONF_TOKEN: trusted_rt.token})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await submit(hass, result["flow_id"], {CONF_TOKEN: trusted_rt.token})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"


# --- Reconfiguration ---------------------------------------------------------------------


def _reconfigure_input(rt_server: RTServer, **overrides: Any) -> dict[str, Any]:
    user_input = {
        CONF_URL: rt_server.url,
        CONF_TOKEN: rt_server.token,
        CONF_QUEUE: rt_server.queue,
        CONF_ALLOW_PRIVATE_NETWORK: True,
        CONF_VERIFY_SSL: True,
    }
    user_input.update(overrides)
    return user_input


async def test_reconfigure_flow_changes_queue(
    hass: HomeAssistant, trusted_rt: RTServer, mock_setup_entry: AsyncMock
) -> None:
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt))
    other_queue = create_queue(trusted_rt)

    result = dict(await entry.start_reconfigure_flow(hass))

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested[CONF_URL] == trusted_rt.url
    assert suggested[CONF_QUEUE] == trusted_rt.queue
    assert CONF_TOKEN not in suggested

    result = await submit(
        hass, result["flow_id"], _reconfigure_input(trusted_rt, **{CONF_QUEUE: other_queue})
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_QUEUE] == other_queue
    assert entry.unique_id == config_entry_unique_id(trusted_rt.url, other_queue)
    assert entry.title == f"{other_queue} (127.0.0.1)"
    assert entry.options[CONF_CATALOG] == trusted_rt.catalog
    assert mock_setup_entry.call_count == 2


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_flow_keeps_custom_title(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt, title="Building A"))
    other_queue = create_queue(trusted_rt)
    result = dict(await entry.start_reconfigure_flow(hass))

    result = await submit(
        hass, result["flow_id"], _reconfigure_input(trusted_rt, **{CONF_QUEUE: other_queue})
    )

    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Building A"


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_flow_to_configured_target_aborts(
    hass: HomeAssistant, trusted_rt: RTServer
) -> None:
    other_queue = create_queue(trusted_rt)
    await _loaded_entry(hass, rt_config_entry(trusted_rt, queue=other_queue))
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt))
    result = dict(await entry.start_reconfigure_flow(hass))

    result = await submit(
        hass, result["flow_id"], _reconfigure_input(trusted_rt, **{CONF_QUEUE: other_queue})
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_QUEUE] == trusted_rt.queue
    assert entry.unique_id == config_entry_unique_id(trusted_rt.url, trusted_rt.queue)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("plain_http", "invalid_url"),
        ("wrong_token", "invalid_auth"),
        ("unknown_queue", "queue_not_found"),
        ("queue_missing_fields", "missing_custom_fields"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_flow_errors_recover(
    hass: HomeAssistant, trusted_rt: RTServer, case: str, error: str
) -> None:
    overrides: dict[str, dict[str, Any]] = {
        "plain_http": {CONF_URL: trusted_rt.url.replace("https://", "http://")},
        "wrong_token": {CONF_TOKEN: WRONG_TOKEN},
        "unknown_queue": {CONF_QUEUE: "No such queue"},
        "queue_missing_fields": {CONF_QUEUE: create_queue(trusted_rt, TICKET_CUSTOM_FIELDS[:3])},
    }
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt))
    result = dict(await entry.start_reconfigure_flow(hass))

    result = await submit(
        hass, result["flow_id"], _reconfigure_input(trusted_rt, **overrides[case])
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await submit(hass, result["flow_id"], _reconfigure_input(trusted_rt))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"


# --- Options -----------------------------------------------------------------------------


async def test_options_flow_saves_and_reloads(
    hass: HomeAssistant, trusted_rt: RTServer, mock_setup_entry: AsyncMock
) -> None:
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt))
    other_catalog = create_catalog(trusted_rt)

    result = await start_options_flow(hass, entry.entry_id)

    result = await submit_options(
        hass,
        result["flow_id"],
        {
            CONF_CATALOG: other_catalog,
            CONF_HA_URL: "https://ha.example.test/",
            CONF_ADDRESS: " Main Street 1 ",
            CONF_SYNC_INTERVAL: 12,
        },
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_CATALOG: other_catalog,
        CONF_HA_URL: "https://ha.example.test",
        CONF_ADDRESS: "Main Street 1",
        CONF_SYNC_INTERVAL: 12,
        CONF_OUTBOX_ENABLED: True,
        CONF_OUTBOX_MAX_PENDING: DEFAULT_OUTBOX_MAX_PENDING,
        CONF_OUTBOX_MAX_AGE: DEFAULT_OUTBOX_MAX_AGE_HOURS,
    }
    assert entry.data[CONF_TOKEN] == trusted_rt.token
    assert mock_setup_entry.call_count == 2


@pytest.mark.parametrize(
    ("case", "errors"),
    [
        ("unknown_catalog", {"base": "catalog_not_found"}),
        ("catalog_missing_fields", {"base": "missing_custom_fields"}),
        ("invalid_ha_url", {CONF_HA_URL: "invalid_ha_url"}),
        ("wrong_token_in_entry", {"base": "invalid_auth"}),
        ("entry_url_now_refused", {"base": "invalid_url"}),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_options_flow_errors_recover(
    hass: HomeAssistant, trusted_rt: RTServer, case: str, errors: dict[str, str]
) -> None:
    options = {CONF_CATALOG: trusted_rt.catalog, CONF_SYNC_INTERVAL: 6}
    overrides: dict[str, dict[str, Any]] = {
        "unknown_catalog": {CONF_CATALOG: "No such catalog"},
        "catalog_missing_fields": {CONF_CATALOG: create_catalog(trusted_rt, ["DeviceId"])},
        "invalid_ha_url": {CONF_HA_URL: "homeassistant.local"},
        "wrong_token_in_entry": {},
        "entry_url_now_refused": {},
    }
    # These cases break the entry's stored connection; the fix is made before the retry.
    entry_changes: dict[str, dict[str, Any]] = {
        "wrong_token_in_entry": {CONF_TOKEN: WRONG_TOKEN},
        "entry_url_now_refused": {CONF_ALLOW_PRIVATE_NETWORK: False},
    }
    entry = await _loaded_entry(hass, rt_config_entry(trusted_rt, **entry_changes.get(case, {})))
    result = await start_options_flow(hass, entry.entry_id)

    result = await submit_options(hass, result["flow_id"], {**options, **overrides[case]})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    if case in entry_changes:
        hass.config_entries.async_update_entry(
            entry,
            data={**entry.data, CONF_TOKEN: trusted_rt.token, CONF_ALLOW_PRIVATE_NETWORK: True},
        )
    result = await submit_options(hass, result["flow_id"], options)

    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- Translations ------------------------------------------------------------------------


def test_translations_cover_flow_errors() -> None:
    strings = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))
    flow_errors = {failure.value for failure in CheckFailure} | {"invalid_ha_url", "unknown"}

    assert flow_errors <= set(strings["config"]["error"])
    assert flow_errors <= set(strings["options"]["error"])
    assert {"already_configured", "already_in_progress"} <= set(strings["config"]["abort"])
    assert set(strings["config"]["step"]) == {"user", "reauth_confirm", "reconfigure"}
    assert set(strings["options"]["step"]) == {"init"}
    assert "{missing_custom_fields}" in strings["config"]["error"]["missing_custom_fields"]


def test_translations_cover_setup_errors() -> None:
    exceptions = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))["exceptions"]
    setup_failures = {f"setup_{failure}" for failure in CheckFailure} - {
        "setup_missing_custom_fields"
    }

    assert setup_failures | {"setup_rt_error", "setup_device_id_missing"} <= set(exceptions)
