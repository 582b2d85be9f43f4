"""RTClient against a real RT 5.0.3 served over HTTPS on 127.0.0.1 (the rt_server fixture).

Other tests share the fixture's queue and catalog, so every value searched for here carries
a unique suffix, and tests that count results use a catalog of their own.
"""

from __future__ import annotations

import time
import uuid

import pytest

from custom_components.ha_rt.rt import (
    RTAPIError,
    RTAuthenticationError,
    RTClient,
    RTConnectionError,
    RTNotFoundError,
    RTPermissionError,
)
from custom_components.ha_rt.rt.sql import all_of, custom_field_equals, equals

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
}

# Creates assets through RT's Perl API in one round trip: about 110 ms per asset against
# 140 ms through REST2, measured on 2 cores under a load average of 7.
CREATE_ASSETS_PERL = """
my $catalog = RT::Catalog->new(RT->SystemUser);
$catalog->Load($args->{catalog});
die "catalog $args->{catalog} not found\\n" unless $catalog->id;

my $device_id = RT::CustomField->new(RT->SystemUser);
$device_id->LoadByName(
    Name => 'DeviceId', LookupType => RT::Asset->CustomFieldLookupType, ObjectId => $catalog->id,
);
die "custom field DeviceId not found\\n" unless $device_id->id;

for my $number (1 .. $args->{count}) {
    my $asset = RT::Asset->new(RT->SystemUser);
    my ($ok, $message) = $asset->Create(
        Catalog => $catalog->id,
        Name => "Paging asset $number",
        'CustomField-' . $device_id->id => "$args->{prefix}-$number",
    );
    die "$message\\n" unless $ok;
}
"""

COUNT_COMMENTS_PERL = """
my $ticket = RT::Ticket->new(RT->SystemUser);
$ticket->Load($args->{id});
my $transactions = $ticket->Transactions;
$transactions->Limit(FIELD => 'Type', VALUE => 'Comment');
print $transactions->Count;
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(rt_server, session) -> RTClient:
    """Client with the token of the API user "ha", which has rights on its queue and catalog."""
    return RTClient(session, rt_server.url, rt_server.token, ssl=rt_server.ssl_context())


@pytest.fixture
def admin_client(rt_server, session) -> RTClient:
    """Client with a superuser token."""
    return RTClient(session, rt_server.url, rt_server.admin_token, ssl=rt_server.ssl_context())


# --- Server, queue and catalog -------------------------------------------------------------


async def test_server_info_reports_rt_5(client):
    info = await client.get_server_info()

    assert info.version.startswith("5.")


async def test_certificate_check_off_accepts_self_signed(rt_server, session):
    client = RTClient(session, rt_server.url, rt_server.token, ssl=False)

    info = await client.get_server_info()

    assert info.version.startswith("5.")


async def test_get_queue_lists_ticket_custom_fields(client, rt_server):
    queue = await client.get_queue(rt_server.queue)

    assert queue.name == rt_server.queue
    assert queue.id > 0
    assert queue.custom_fields >= TICKET_CUSTOM_FIELDS


async def test_get_catalog_lists_asset_custom_fields(client, rt_server):
    await client.create_asset(rt_server.catalog, "Probe", {"DeviceId": unique("dev")})

    catalog = await client.get_catalog(rt_server.catalog)

    assert catalog.name == rt_server.catalog
    assert catalog.id > 0
    assert catalog.custom_fields >= ASSET_CUSTOM_FIELDS


async def test_get_catalog_names_fields_once_an_asset_exists(client, admin_client, rt_server):
    # RT 5.0.3 lists a catalog's custom fields to a user with rights on the catalog only
    # through its assets. A superuser token gets them from /catalog/N/customfields.
    name = unique("Fields")
    rt_server.create_catalog(name)

    empty = await client.get_catalog(name)
    as_admin = await admin_client.get_catalog(name)
    await client.create_asset(name, "First", {"DeviceId": unique("dev")})
    with_asset = await client.get_catalog(name)

    assert empty.custom_fields == frozenset()
    assert as_admin.custom_fields >= ASSET_CUSTOM_FIELDS
    assert with_asset.custom_fields >= ASSET_CUSTOM_FIELDS


# --- Tickets ---------------------------------------------------------------------------------


async def test_ticket_create_comment_resolve(client, rt_server):
    device_id = unique("dev")
    asset_id = await client.create_asset(rt_server.catalog, "Sensor", {"DeviceId": device_id})

    ticket_id = await client.create_ticket(
        rt_server.queue,
        "Water leak",
        "Water in the basement",
        custom_fields={"DeviceId": device_id, "Area": "Basement"},
        refers_to=[f"asset:{asset_id}"],
    )
    await client.comment_ticket(ticket_id, "Still leaking")
    await client.set_ticket_status(ticket_id, "resolved")

    ticket = await client.get_ticket(ticket_id)
    assert ticket.id == ticket_id
    assert ticket.subject == "Water leak"
    assert ticket.status == "resolved"
    assert ticket.custom_fields["DeviceId"] == device_id
    assert ticket.custom_fields["Area"] == "Basement"
    assert ticket.custom_fields["Address"] == ""
    assert rt_server.perl(COUNT_COMMENTS_PERL, {"id": ticket_id}) == "1"

    referring = await client.search_tickets(f'RefersTo = "asset:{asset_id}"')
    assert [found.id for found in referring] == [ticket_id]


async def test_search_tickets_by_status_and_device(client, rt_server):
    device_id = unique("dev")
    first = await client.create_ticket(
        rt_server.queue, "One", "x", custom_fields={"DeviceId": device_id}
    )
    second = await client.create_ticket(
        rt_server.queue, "Two", "x", custom_fields={"DeviceId": device_id}
    )
    await client.set_ticket_status(second, "resolved")

    query = all_of(
        [
            equals("Queue", rt_server.queue),
            equals("Status", "new"),
            custom_field_equals("DeviceId", device_id),
        ]
    )
    found = await client.search_tickets(query)

    assert [ticket.id for ticket in found] == [first]
    assert found[0].subject == "One"
    assert found[0].custom_fields["DeviceId"] == device_id


TRICKY_DEVICE_IDS = [
    pytest.param('"quoted" \\ back\\slash \' OR 1=1 --', id="quote-backslash-injection"),
    pytest.param("' OR 1=1 --", id="single-quote-injection"),
    pytest.param("ends with backslash \\", id="trailing-backslash"),
    pytest.param('ends with quote "', id="trailing-quote"),
    pytest.param("line\nbreak", id="newline"),
    pytest.param('") OR (Subject LIKE "', id="condition-breakout"),
]


def decoys(device_id: str) -> list[str]:
    """Values a broken escape would confuse with `device_id`."""
    return [
        device_id.replace("\\", ""),
        device_id.replace('"', ""),
        device_id.replace("\\", "\\\\"),
        device_id.replace('"', '\\"'),
        device_id.rsplit(" ", 1)[0],
        "' OR 1=1 --",
    ]


@pytest.mark.parametrize("tricky", TRICKY_DEVICE_IDS)
async def test_ticket_device_id_found_exactly(client, rt_server, tricky):
    suffix = uuid.uuid4().hex[:12]
    device_id = f"{suffix} {tricky}"
    target = await client.create_ticket(
        rt_server.queue, "Target", "x", custom_fields={"DeviceId": device_id}
    )
    for decoy in {*decoys(device_id), suffix} - {device_id}:
        await client.create_ticket(rt_server.queue, "Decoy", "x", custom_fields={"DeviceId": decoy})

    query = all_of([equals("Queue", rt_server.queue), custom_field_equals("DeviceId", device_id)])
    found = await client.search_tickets(query)

    assert [ticket.id for ticket in found] == [target]
    assert found[0].custom_fields["DeviceId"] == device_id


@pytest.mark.parametrize("tricky", TRICKY_DEVICE_IDS)
async def test_asset_device_id_found_exactly(client, rt_server, tricky):
    suffix = uuid.uuid4().hex[:12]
    device_id = f"{suffix} {tricky}"
    target = await client.create_asset(rt_server.catalog, "Target", {"DeviceId": device_id})
    for decoy in {*decoys(device_id), suffix} - {device_id}:
        await client.create_asset(rt_server.catalog, "Decoy", {"DeviceId": decoy})

    query = all_of(
        [equals("Catalog", rt_server.catalog), custom_field_equals("DeviceId", device_id)]
    )
    found = await client.search_assets(query)

    assert [asset.id for asset in found] == [target]
    assert found[0].custom_fields is not None
    assert found[0].custom_fields["DeviceId"] == device_id


# --- Assets ------------------------------------------------------------------------------------


async def test_asset_create_update_read(client, rt_server):
    device_id = unique("dev")

    asset_id = await client.create_asset(
        rt_server.catalog, "Lamp", {"DeviceId": device_id, "Model": "L1"}
    )
    await client.update_asset(
        asset_id, name="Desk lamp", status="in-use", custom_fields={"Model": "L2"}
    )

    asset = await client.get_asset(asset_id)
    assert asset.id == asset_id
    assert asset.name == "Desk lamp"
    assert asset.status == "in-use"
    assert asset.last_updated is not None
    assert asset.custom_fields is not None
    assert asset.custom_fields["DeviceId"] == device_id
    assert asset.custom_fields["Model"] == "L2"
    assert asset.custom_fields["Serial Number"] == ""


async def test_asset_created_with_status(client, rt_server):
    asset_id = await client.create_asset(
        rt_server.catalog, "Plug", {"DeviceId": unique("dev")}, status="in-use"
    )

    asset = await client.get_asset(asset_id)

    assert asset.status == "in-use"


async def test_update_asset_clears_custom_field(client, rt_server):
    asset_id = await client.create_asset(
        rt_server.catalog, "Lamp", {"DeviceId": unique("dev"), "Model": "L1"}
    )

    await client.update_asset(asset_id, custom_fields={"Model": ""})

    asset = await client.get_asset(asset_id)
    assert asset.custom_fields is not None
    assert asset.custom_fields["Model"] == ""


async def test_rejected_asset_transition_raises_api_error(client, rt_server):
    asset_id = await client.create_asset(rt_server.catalog, "Lamp", {"DeviceId": unique("dev")})

    # RT 5.0.3's assets lifecycle has no transition from new to recycled.
    with pytest.raises(RTAPIError) as caught:
        await client.update_asset(asset_id, status="recycled")

    assert caught.value.status == 200
    assert any("You can't change status" in message for message in caught.value.messages)
    assert (await client.get_asset(asset_id)).status == "new"


async def test_invalid_ticket_status_raises_api_error(client, rt_server):
    ticket_id = await client.create_ticket(rt_server.queue, "Leak", "x")

    with pytest.raises(RTAPIError) as caught:
        await client.set_ticket_status(ticket_id, "bogus")

    assert any("isn't a valid status" in message for message in caught.value.messages)


async def test_list_catalog_assets_reads_every_page(client, rt_server):
    catalog = unique("Paging")
    prefix = unique("page")
    rt_server.create_catalog(catalog)
    rt_server.perl(CREATE_ASSETS_PERL, {"catalog": catalog, "count": 250, "prefix": prefix})

    started = time.perf_counter()
    listed = await client.list_catalog_assets(catalog, with_custom_fields=False)
    cheap_seconds = time.perf_counter() - started
    full = await client.list_catalog_assets(catalog, with_custom_fields=True)

    assert len(listed) == 250
    assert len({asset.id for asset in listed}) == 250
    assert all(asset.custom_fields is None for asset in listed)
    assert all(asset.last_updated is not None for asset in listed)
    assert [asset.id for asset in full] == [asset.id for asset in listed]
    assert all(asset.custom_fields is not None for asset in full)
    assert {asset.custom_fields["DeviceId"] for asset in full if asset.custom_fields} == {
        f"{prefix}-{number}" for number in range(1, 251)
    }
    # Three pages of 100 take under 1 s on a loopback RT. The bound only catches a
    # paging loop that keeps going.
    assert cheap_seconds < 30


# --- Errors from real conditions -------------------------------------------------------------


async def test_wrong_token_raises_authentication_error(rt_server, session):
    client = RTClient(session, rt_server.url, "1-34-00000000000000000000000000000000", ssl=False)

    with pytest.raises(RTAuthenticationError):
        await client.get_server_info()


async def test_untrusted_certificate_raises_connection_error(rt_server, session):
    client = RTClient(session, rt_server.url, rt_server.token)

    with pytest.raises(RTConnectionError) as caught:
        await client.get_server_info()

    assert "certificate" in str(caught.value)
    assert rt_server.token not in str(caught.value)


async def test_unknown_ticket_raises_not_found(client):
    with pytest.raises(RTNotFoundError):
        await client.get_ticket(999_999)


async def test_unknown_asset_raises_not_found(client):
    with pytest.raises(RTNotFoundError):
        await client.get_asset(999_999)


async def test_update_unknown_asset_raises_not_found(client):
    with pytest.raises(RTNotFoundError):
        await client.update_asset(999_999, name="Ghost")


async def test_unknown_queue_raises_permission_error(client):
    with pytest.raises(RTPermissionError) as caught:
        await client.get_queue(unique("No such queue"))

    assert caught.value.rt_message == "Forbidden"


async def test_unknown_catalog_raises_permission_error(client):
    with pytest.raises(RTPermissionError):
        await client.get_catalog(unique("No such catalog"))


async def test_create_ticket_in_unknown_queue_raises_permission_error(client):
    queue = unique("No such queue")

    with pytest.raises(RTPermissionError) as caught:
        await client.create_ticket(queue, "Leak", "x")

    assert caught.value.rt_message is not None
    assert queue in caught.value.rt_message


async def test_comment_on_unknown_ticket_raises_api_error(client):
    # RT 5.0.3 answers 400 "Permission Denied" here, not 404.
    with pytest.raises(RTAPIError) as caught:
        await client.comment_ticket(999_999, "Hello")

    assert caught.value.status == 400


async def test_bad_ticketsql_raises_api_error_with_parser_message(client):
    with pytest.raises(RTAPIError) as caught:
        await client.search_tickets("Queue ==")

    assert caught.value.status == 400
    assert any("Wrong query" in message for message in caught.value.messages)
