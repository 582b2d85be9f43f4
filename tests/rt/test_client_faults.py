"""RTClient against a local aiohttp server, for faults that a real RT cannot produce."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

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
from custom_components.ha_rt.rt import client as client_module

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

TOKEN = "1-34-0123456789abcdef0123456789abcdef"  # noqa: S105 - a made-up token

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers=headers,
    )


def respond_with(response: Callable[[], web.Response]) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        return response()

    return handler


TICKET = {"id": 7, "Subject": "Water leak", "Status": "new", "CustomFields": []}


# --- Transport faults ---------------------------------------------------------------


async def test_request_timeout_raises_timeout_error(start_server, session):
    async def stall(request: web.Request) -> web.Response:
        await server.released.wait()
        return json_response({"Version": "5.0.3"})

    server = await start_server(stall)
    client = RTClient(session, server.url, TOKEN, request_timeout=0.05)

    with pytest.raises(RTTimeoutError) as caught:
        await client.get_server_info()

    assert isinstance(caught.value, RTConnectionError)
    assert "may still have reached RT" in str(caught.value)


async def test_closed_port_raises_connection_error(session):
    # Bind a port and close it again, so nothing listens there.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = RTClient(session, f"http://127.0.0.1:{port}", TOKEN)

    with pytest.raises(RTConnectionError) as caught:
        await client.get_server_info()

    assert not isinstance(caught.value, RTTimeoutError)
    assert "127.0.0.1" in str(caught.value)


async def test_connector_error_passes_through_unchanged():
    class AddressBlockedError(Exception):
        """Stands in for the error of a connector that rejects an address."""

    class BlockingResolver(AbstractResolver):
        async def resolve(self, host, port=0, family=socket.AF_INET):  # noqa: ARG002
            raise AddressBlockedError(host)

        async def close(self) -> None:
            pass

    connector = aiohttp.TCPConnector(resolver=BlockingResolver())
    async with aiohttp.ClientSession(connector=connector) as blocking_session:
        client = RTClient(blocking_session, "https://rt.example.com", TOKEN)

        with pytest.raises(AddressBlockedError):
            await client.get_server_info()


# --- HTTP status mapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"message": "Unauthorized"}, RTAuthenticationError),
        (403, {"message": "Forbidden"}, RTPermissionError),
        (404, {"message": "Not Found"}, RTNotFoundError),
        (400, {"message": "Wrong query"}, RTAPIError),
        (415, {"message": "Unsupported Media Type"}, RTAPIError),
        (500, {"message": "Internal Server Error"}, RTAPIError),
        (429, {"message": "slow down"}, RTConnectionError),
        (502, None, RTConnectionError),
        (503, None, RTConnectionError),
        (504, None, RTConnectionError),
    ],
)
async def test_http_status_maps_to_error(start_server, session, status, body, expected):
    def response() -> web.Response:
        if body is None:
            return web.Response(status=status, text="<html>Bad gateway</html>")
        return json_response(body, status=status)

    server = await start_server(respond_with(response))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(expected) as caught:
        await client.get_server_info()

    assert type(caught.value) is expected
    assert str(status) in str(caught.value)


async def test_api_error_carries_status_and_message(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"message": "nope"}, 400)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTAPIError) as caught:
        await client.search_tickets('Queue = "x"')

    assert caught.value.status == 400
    assert caught.value.messages == ("nope",)


async def test_permission_error_carries_rt_message(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"message": "Forbidden"}, 403)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTPermissionError) as caught:
        await client.get_queue("Facilities")

    assert caught.value.rt_message == "Forbidden"


async def test_redirect_is_not_followed(start_server, session):
    async def redirect(request: web.Request) -> web.Response:
        if request.path.startswith("/elsewhere"):
            return json_response({"Version": "5.0.3"})
        return web.Response(status=302, headers={"Location": "/elsewhere/REST/2.0/rt"})

    server = await start_server(redirect)
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTAPIError) as caught:
        await client.get_server_info()

    assert caught.value.status == 302
    assert "/elsewhere/REST/2.0/rt" in str(caught.value)
    assert [request.path for request in server.requests] == ["/REST/2.0/rt"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        (None, None),
    ],
)
async def test_retry_after_seconds_parsed(start_server, session, header, expected):
    headers = {} if header is None else {"Retry-After": header}
    server = await start_server(respond_with(lambda: web.Response(status=429, headers=headers)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTConnectionError) as caught:
        await client.get_server_info()

    assert caught.value.retry_after == expected


async def test_retry_after_http_date_parsed(start_server, session):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    server = await start_server(
        respond_with(lambda: web.Response(status=503, headers={"Retry-After": when}))
    )
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTConnectionError) as caught:
        await client.get_server_info()

    assert caught.value.retry_after is not None
    assert 50.0 <= caught.value.retry_after <= 60.0


async def test_token_not_in_error_messages(start_server, session):
    echo = {"message": f"token {TOKEN} is not allowed here"}
    server = await start_server(respond_with(lambda: json_response(echo, 403)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTPermissionError) as caught:
        await client.get_server_info()

    assert TOKEN not in str(caught.value)
    assert "<token>" in str(caught.value)
    assert TOKEN not in repr(client)


# --- Invalid responses ----------------------------------------------------------------


async def test_html_instead_of_json_raises_invalid_response(start_server, session):
    html = "<!DOCTYPE html><html><body>Login</body></html>"
    server = await start_server(
        respond_with(lambda: web.Response(text=html, content_type="text/html"))
    )
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTInvalidResponseError) as caught:
        await client.get_server_info()

    assert "not JSON" in str(caught.value)


async def get_server_info(client: RTClient) -> object:
    return await client.get_server_info()


async def get_queue(client: RTClient) -> object:
    return await client.get_queue("Facilities")


async def get_ticket(client: RTClient) -> object:
    return await client.get_ticket(7)


async def get_asset(client: RTClient) -> object:
    return await client.get_asset(3)


async def search_tickets(client: RTClient) -> object:
    return await client.search_tickets('Queue = "Facilities"')


async def create_ticket(client: RTClient) -> object:
    return await client.create_ticket("Facilities", "Leak", "Water")


async def update_asset(client: RTClient) -> None:
    await client.update_asset(3, name="Lamp")


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (get_server_info, []),
        (get_server_info, {"Version": 5}),
        (get_queue, {"id": "three", "Name": "Facilities"}),
        (get_queue, {"id": 3, "Name": "Facilities", "TicketCustomFields": {}}),
        (get_ticket, {**TICKET, "id": True}),
        (get_ticket, {**TICKET, "Status": None}),
        (get_ticket, {**TICKET, "CustomFields": "DeviceId"}),
        (get_ticket, {**TICKET, "CustomFields": [{"name": "DeviceId", "values": "x"}]}),
        (get_ticket, {**TICKET, "CustomFields": [{"name": "DeviceId", "values": [1]}]}),
        (get_asset, {"id": 3, "Name": "Lamp", "Status": "new", "LastUpdated": 5}),
        (search_tickets, {"items": {}}),
        (search_tickets, {"items": [1, 2]}),
        (search_tickets, {"items": [], "pages": "1"}),
        (search_tickets, {"items": [], "per_page": 1.5}),
        (search_tickets, {"items": [], "page": -1}),
        (search_tickets, {"items": [], "next_page": 2}),
        (search_tickets, {"items": [{"id": "x", "Subject": "s", "Status": "new"}]}),
        (create_ticket, {"_url": "no id"}),
        (create_ticket, ["Ticket created"]),
        (update_asset, {"message": "not a list"}),
    ],
)
async def test_wrong_shape_raises_invalid_response(start_server, session, call, body):
    server = await start_server(respond_with(lambda: json_response(body)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTInvalidResponseError):
        await call(client)


# --- Requests the client sends ----------------------------------------------------------


async def test_request_headers_identify_client(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"Version": "5.0.3"})))
    client = RTClient(session, server.url, TOKEN)

    await client.get_server_info()

    headers = server.requests[0].headers
    assert headers["Authorization"] == f"token {TOKEN}"
    assert "Mozilla" not in headers["User-Agent"]
    assert headers["Accept"] == "application/json"


async def test_url_path_kept_below_rest_base(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"Version": "5.0.3"})))
    client = RTClient(session, f"{server.url}/rt/", TOKEN)

    await client.get_server_info()

    assert server.requests[0].path == "/rt/REST/2.0/rt"


async def test_create_ticket_sends_json_body(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"id": "7"}, 201)))
    client = RTClient(session, server.url, TOKEN)

    ticket_id = await client.create_ticket(
        "Facilities",
        "Water leak",
        "Basement",
        custom_fields={"DeviceId": "abc"},
        refers_to=["asset:3"],
    )

    assert ticket_id == 7
    request = server.requests[0]
    assert request.method == "POST"
    assert request.path == "/REST/2.0/ticket"
    assert request.content_type == "application/json"
    assert json.loads(server.bodies[0]) == {
        "Queue": "Facilities",
        "Subject": "Water leak",
        "Content": "Basement",
        "ContentType": "text/plain",
        "CustomFields": {"DeviceId": "abc"},
        "RefersTo": ["asset:3"],
    }


async def test_comment_sends_plain_text_content_type(start_server, session):
    server = await start_server(respond_with(lambda: json_response(["Comments added"], 201)))
    client = RTClient(session, server.url, TOKEN)

    await client.comment_ticket(7, "Still leaking")

    assert server.requests[0].path == "/REST/2.0/ticket/7/comment"
    assert json.loads(server.bodies[0]) == {"Content": "Still leaking", "ContentType": "text/plain"}


async def test_queue_name_encoded_as_one_segment(start_server, session):
    queue = {"id": 4, "Name": "Home/Office A", "TicketCustomFields": []}
    server = await start_server(respond_with(lambda: json_response(queue)))
    client = RTClient(session, server.url, TOKEN)

    await client.get_queue("Home/Office A")

    assert server.requests[0].raw_path == "/REST/2.0/queue/Home%2FOffice%20A"


async def test_queue_loaded_by_id_is_not_found(start_server, session):
    # RT loads /queue/<digits> by id, so a queue named "7" may come back as another queue.
    queue = {"id": 7, "Name": "General", "TicketCustomFields": []}
    server = await start_server(respond_with(lambda: json_response(queue)))
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTNotFoundError):
        await client.get_queue("7")


async def test_update_asset_without_changes_sends_nothing(start_server, session):
    server = await start_server(respond_with(lambda: json_response([])))
    client = RTClient(session, server.url, TOKEN)

    await client.update_asset(3)

    assert server.requests == []


# --- Session ownership ----------------------------------------------------------------------


async def test_own_session_closed_on_exit(start_server):
    server = await start_server(respond_with(lambda: json_response({"Version": "5.0.3"})))

    async with RTClient(None, server.url, TOKEN) as client:
        await client.get_server_info()
        own_session = client._session
        assert own_session is not None

    assert own_session.closed
    assert client._session is None


async def test_injected_session_left_open(start_server, session):
    server = await start_server(respond_with(lambda: json_response({"Version": "5.0.3"})))

    async with RTClient(session, server.url, TOKEN) as client:
        await client.get_server_info()

    assert not session.closed


@pytest.mark.parametrize("url", ["rt.example.com", "ftp://rt.example.com", "https://"])
def test_invalid_url_rejected(url):
    with pytest.raises(ValueError, match="Invalid RT URL"):
        RTClient(None, url, TOKEN)


@pytest.mark.parametrize(
    "token", ["", f"{TOKEN}\n", f"{TOKEN}\r\nX-Injected: 1", f" {TOKEN}", "a\x00b"]
)
async def test_invalid_token_never_sent(start_server, session, token):
    server = await start_server(respond_with(lambda: json_response({"Version": "5.0.3"})))
    client = RTClient(session, server.url, token)

    with pytest.raises(RTAuthenticationError, match="Invalid RT API token") as caught:
        await client.get_server_info()

    assert server.requests == []
    assert TOKEN not in str(caught.value)


# --- Pagination --------------------------------------------------------------------------------


def rt_collection(
    total: int,
    *,
    with_totals: bool = True,
    next_page: str | None = "rt503",
    past_end: str = "empty",
    echo_page: bool = True,
    per_page_cap: int = 100,
    pages_as_float: bool = False,
) -> Handler:
    """Return a handler that serves `total` tickets the way a given RT version pages them.

    `next_page` is "rt503" (with the stray `&=&`), "clean", "foreign" (another host) or
    None. `past_end` is "empty" (RT 5.0.3) or "last" (RT 5.0.6+ repeats the last page).
    """

    async def handler(request: web.Request) -> web.Response:
        per_page = min(int(request.query.get("per_page", "20")), per_page_cap)
        page = int(request.query.get("page", "1"))
        last_page = max(1, -(-total // per_page))
        if page > last_page and past_end == "last":
            page = last_page

        first = (page - 1) * per_page + 1
        ids = range(first, min(first + per_page, total + 1))
        items = [{"id": str(i), "type": "ticket", "Subject": f"t{i}", "Status": "new"} for i in ids]
        body: dict[str, Any] = {"count": len(items), "per_page": per_page, "items": items}
        if echo_page:
            body["page"] = page

        pages = -(-total // per_page)
        if with_totals:
            body["total"] = total
            body["pages"] = float(pages) if pages_as_float or pages == 0 else pages
        else:
            body["total"] = None
            body["pages"] = None

        if next_page is not None and page < pages:
            # A different scheme makes another origin that still stays on 127.0.0.1.
            scheme = "https" if next_page == "foreign" else request.url.scheme
            params = [(k, v) for k, v in request.query.items() if k not in {"page", "via"}]
            query = urlencode([*params, ("via", "next_page")])
            stray = "&=&" if next_page == "rt503" else "&"
            body["next_page"] = (
                f"{scheme}://{request.host}{request.path}?{query}{stray}page={page + 1}"
            )

        return json_response(body)

    return handler


PAGING_CASES = [
    pytest.param({}, id="rt503-with-totals"),
    pytest.param({"with_totals": False, "next_page": None}, id="no-totals-no-next-page"),
    pytest.param({"with_totals": False, "next_page": "clean"}, id="next-page-without-totals"),
    pytest.param(
        {"with_totals": False, "next_page": None, "past_end": "last"},
        id="last-page-repeated-past-end",
    ),
    pytest.param({"pages_as_float": True}, id="pages-as-float"),
    pytest.param({"next_page": "foreign"}, id="next-page-on-other-host-ignored"),
    pytest.param({"with_totals": False, "next_page": None, "echo_page": False}, id="no-page-echo"),
    pytest.param(
        {"with_totals": False, "next_page": None, "per_page_cap": 50}, id="per-page-capped"
    ),
]


@pytest.mark.parametrize("total", [0, 1, 100, 250])
@pytest.mark.parametrize("behaviour", PAGING_CASES)
async def test_search_reads_every_page(start_server, session, behaviour, total):
    server = await start_server(rt_collection(total, **behaviour))
    client = RTClient(session, server.url, TOKEN)

    tickets = await client.search_tickets('Queue = "Facilities"')

    assert [ticket.id for ticket in tickets] == list(range(1, total + 1))

    # Pages that exist came through RT's next_page link when RT offered a usable one.
    per_page = behaviour.get("per_page_cap", 100)
    last_page = -(-total // per_page)
    followed = [
        request.query.get("via") == "next_page"
        for request in server.requests[1:]
        if int(request.query["page"]) <= last_page
    ]
    if behaviour.get("next_page", "rt503") in {"rt503", "clean"}:
        assert all(followed)
    else:
        assert not any(followed)

    # Full pages plus at most one request that finds the end.
    assert len(server.requests) <= total // per_page + 1


async def test_search_sends_query_and_paging_parameters(start_server, session):
    server = await start_server(rt_collection(1))
    client = RTClient(session, server.url, TOKEN)
    query = 'CF.{DeviceId} = "a&b=c \\" \' OR 1=1 --"'

    await client.search_tickets(query)

    params = server.requests[0].query
    assert params["query"] == query
    assert params["per_page"] == "100"
    assert params["page"] == "1"
    assert params["fields"] == "Subject,Status,CustomFields"
    assert params["orderby"] == "id"


async def test_search_drops_repeated_items(start_server, session):
    # A ticket created during paging shifts the pages, so an item can appear twice.
    async def shifted(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        ids = range(1, 101) if page == 1 else range(100, 151)
        items = [{"id": str(i), "Subject": "s", "Status": "new"} for i in ids]
        return json_response({"page": page, "per_page": 100, "items": items})

    server = await start_server(shifted)
    client = RTClient(session, server.url, TOKEN)

    tickets = await client.search_tickets('Queue = "Facilities"')

    assert [ticket.id for ticket in tickets] == list(range(1, 151))


async def test_search_stops_at_page_cap(start_server, session, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_PAGES", 5)

    async def endless(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        first = (page - 1) * 100 + 1
        items = [{"id": str(i), "Subject": "s", "Status": "new"} for i in range(first, first + 100)]
        return json_response({"page": page, "per_page": 100, "items": items})

    server = await start_server(endless)
    client = RTClient(session, server.url, TOKEN)

    with pytest.raises(RTInvalidResponseError, match="more than 5 pages"):
        await client.search_tickets('Queue = "Facilities"')

    assert len(server.requests) == 5


@pytest.mark.parametrize(("with_custom_fields", "per_page"), [(True, "25"), (False, "100")])
async def test_asset_search_page_size(start_server, session, with_custom_fields, per_page):
    async def assets(request: web.Request) -> web.Response:
        size = int(request.query["per_page"])
        page = int(request.query["page"])
        first = (page - 1) * size + 1
        ids = range(first, min(first + size, 61))
        items = [{"id": str(i), "Name": f"a{i}", "Status": "new", "CustomFields": []} for i in ids]
        return json_response({"page": page, "per_page": size, "items": items})

    server = await start_server(assets)
    client = RTClient(session, server.url, TOKEN)

    found = await client.list_catalog_assets("Devices", with_custom_fields=with_custom_fields)

    assert [asset.id for asset in found] == list(range(1, 61))
    assert {request.query["per_page"] for request in server.requests} == {per_page}
    assert server.requests[0].query["query"] == 'Catalog = "Devices"'
