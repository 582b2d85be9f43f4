"""Smoke tests for the RT 5 test instance: reachable over HTTPS and provisioned as promised."""

from __future__ import annotations

import ssl
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
import pytest

from .rt_server import RTServer, RTServerError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    # rest2(method, path, body=None, *, token=<API user's token>) -> (status, JSON body)
    type REST2 = Callable[..., Awaitable[tuple[int, Any]]]

pytestmark = pytest.mark.usefixtures("socket_enabled")

TICKET_CUSTOM_FIELDS = {"DeviceId", "Device Information", "Area", "Address"}
ASSET_CUSTOM_FIELDS = {
    "DeviceId",
    "Manufacturer",
    "Model",
    "Serial Number",
    "Firmware Version",
    "Hardware Version",
    "Configuration URL",
    "MAC Address",
    "Area",
    "Address",
}


@pytest.fixture
async def rest2(rt_server: RTServer) -> AsyncIterator[REST2]:
    """Yield a function that sends one REST2 request and returns (status, decoded JSON)."""
    connector = aiohttp.TCPConnector(ssl=rt_server.ssl_context())
    headers = {"User-Agent": "ha_rt-tests"}

    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def request(
            method: str, path: str, body: Any = None, *, token: str | None = rt_server.token
        ) -> tuple[int, Any]:
            auth = {} if token is None else {"Authorization": f"token {token}"}
            url = f"{rt_server.url}/REST/2.0/{path}"
            async with session.request(method, url, headers=auth, json=body) as response:
                return response.status, await response.json(content_type=None)

        yield request


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def custom_field_values(record: dict[str, Any]) -> dict[str, list[str]]:
    return {field["name"]: field["values"] for field in record["CustomFields"]}


async def test_rt_server_url_is_https_on_loopback(rt_server: RTServer) -> None:
    assert rt_server.url == f"https://127.0.0.1:{rt_server.port}"
    assert rt_server.pid is not None


async def test_rt_server_returns_401_without_token(rest2) -> None:
    status, _ = await rest2("GET", "rt", token=None)

    assert status == 401


async def test_rt_server_returns_401_with_wrong_token(rest2) -> None:
    status, _ = await rest2("GET", "rt", token="1-99-" + "0" * 32)

    assert status == 401


@pytest.mark.parametrize("token_attribute", ["token", "admin_token"])
async def test_rt_server_returns_200_with_token(rest2, rt_server, token_attribute) -> None:
    status, body = await rest2("GET", "rt", token=getattr(rt_server, token_attribute))

    assert status == 200
    assert body["Version"].startswith("5.0.")


async def test_rt_server_certificate_is_not_publicly_trusted(rt_server: RTServer) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl.create_default_context())
    async with aiohttp.ClientSession(connector=connector) as client:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.get(f"{rt_server.url}/REST/2.0/rt")


async def test_queue_custom_fields_visible_to_api_token(rest2, rt_server) -> None:
    status, queue = await rest2("GET", f"queue/{rt_server.queue}")

    assert status == 200
    assert {field["name"] for field in queue["TicketCustomFields"]} == TICKET_CUSTOM_FIELDS


async def test_queue_accepts_ticket_custom_field_values(rest2, rt_server) -> None:
    values = {name: f"value of {name}" for name in TICKET_CUSTOM_FIELDS}
    payload = {
        "Queue": rt_server.queue,
        "Subject": "smoke test ticket",
        "Content": "created by test_rt_server",
        "ContentType": "text/plain",
        "CustomFields": values,
    }

    status, created = await rest2("POST", "ticket", payload)
    assert status == 201
    status, ticket = await rest2("GET", f"ticket/{created['id']}")

    assert status == 200
    assert custom_field_values(ticket) == {name: [value] for name, value in values.items()}


async def test_catalog_visible_to_api_token(rest2, rt_server) -> None:
    path = f"catalog/{quote(rt_server.catalog)}"
    status, catalog = await rest2("GET", path)

    assert status == 200
    assert catalog["Name"] == rt_server.catalog
    assert catalog["Lifecycle"] == "assets"


async def test_catalog_accepts_all_asset_custom_fields(rest2, rt_server) -> None:
    values = {name: f"value of {name}" for name in ASSET_CUSTOM_FIELDS}
    payload = {"Catalog": rt_server.catalog, "Name": unique("smoke asset"), "CustomFields": values}

    status, created = await rest2("POST", "asset", payload)
    assert status == 201
    status, asset = await rest2("GET", f"asset/{created['id']}")

    assert status == 200
    assert custom_field_values(asset) == {name: [value] for name, value in values.items()}


async def test_create_queue_applies_fields_and_rights(rest2, rt_server) -> None:
    name = unique("Queue")

    queue_id = rt_server.create_queue(name)
    status, queue = await rest2("GET", f"queue/{quote(name)}")

    assert status == 200
    assert int(queue["id"]) == queue_id
    assert {field["name"] for field in queue["TicketCustomFields"]} == TICKET_CUSTOM_FIELDS


async def test_create_queue_with_chosen_custom_fields(rest2, rt_server) -> None:
    name = unique("Queue")

    rt_server.create_queue(name, custom_fields=["DeviceId", "Area"])
    status, queue = await rest2("GET", f"queue/{quote(name)}")

    assert status == 200
    assert {field["name"] for field in queue["TicketCustomFields"]} == {"DeviceId", "Area"}


async def test_create_queue_without_rights_hides_it(rest2, rt_server) -> None:
    name = unique("Queue")

    rt_server.create_queue(name, rights=[])
    status, _ = await rest2("GET", f"queue/{quote(name)}")
    admin_status, _ = await rest2("GET", f"queue/{quote(name)}", token=rt_server.admin_token)

    assert status == 403
    assert admin_status == 200


async def test_create_catalog_applies_fields_and_rights(rest2, rt_server) -> None:
    name = unique("Catalog")
    fields = {"DeviceId", "Model"}

    rt_server.create_catalog(name, custom_fields=sorted(fields))
    payload = {"Catalog": name, "Name": unique("asset"), "CustomFields": {"Model": "X1"}}
    status, created = await rest2("POST", "asset", payload)
    assert status == 201
    _, asset = await rest2("GET", f"asset/{created['id']}")

    assert {field["name"] for field in asset["CustomFields"]} == fields
    assert custom_field_values(asset)["Model"] == ["X1"]


def test_perl_returns_printed_output(rt_server: RTServer) -> None:
    output = rt_server.perl(
        "my $queue = RT::Queue->new(RT->SystemUser); $queue->Load($args->{name});"
        " print $queue->Name, ' ', $args->{note};",
        {"name": rt_server.queue, "note": "Grüße"},
    )

    assert output == f"{rt_server.queue} Grüße"


def test_perl_raises_with_perl_message(rt_server: RTServer) -> None:
    with pytest.raises(RTServerError, match="no such queue here"):
        rt_server.perl('die "no such queue here\\n";')


def test_create_queue_rejects_duplicate_name(rt_server: RTServer) -> None:
    with pytest.raises(RTServerError, match="creating queue 'Facilities' failed"):
        rt_server.create_queue(rt_server.queue)


async def test_rt_server_restarts_with_same_port_and_data(rest2, rt_server) -> None:
    url = rt_server.url
    old_pid = rt_server.pid

    rt_server.stop()
    stopped_pid = rt_server.pid
    assert stopped_pid is None
    with pytest.raises(aiohttp.ClientConnectorError):
        await rest2("GET", "rt")
    rt_server.start()
    status, queue = await rest2("GET", f"queue/{rt_server.queue}")

    assert rt_server.url == url
    assert rt_server.pid not in {None, old_pid}
    assert status == 200
    assert queue["Name"] == rt_server.queue
