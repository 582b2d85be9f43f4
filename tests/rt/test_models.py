"""Parsing of REST2 JSON into the models, pages and update messages of the RT client."""

from __future__ import annotations

import pytest
from yarl import URL

from custom_components.ha_rt.rt import Asset, Catalog, Queue, RTInvalidResponseError, Ticket
from custom_components.ha_rt.rt.client import _rejections
from custom_components.ha_rt.rt.paging import Page, next_page_url


def custom_field(name: str, *values: str | None) -> dict[str, object]:
    return {"type": "customfield", "id": "2", "name": name, "values": list(values)}


@pytest.mark.parametrize("raw_id", [7, "7"])
def test_ticket_id_normalised_to_int(raw_id):
    ticket = Ticket.from_json({"id": raw_id, "Subject": "Leak", "Status": "new"})

    assert ticket.id == 7
    assert ticket.custom_fields == {}


def test_ticket_custom_fields_take_first_value():
    ticket = Ticket.from_json(
        {
            "id": 7,
            "Subject": "Leak",
            "Status": "open",
            "CustomFields": [
                custom_field("DeviceId", "abc", "ignored"),
                custom_field("Area"),
            ],
        }
    )

    assert ticket.custom_fields == {"DeviceId": "abc", "Area": ""}


def test_deleted_custom_field_value_reads_empty():
    # RT 5.0.3 lists a deleted value as null until the field gets a new value.
    ticket = Ticket.from_json(
        {
            "id": 7,
            "Subject": "Leak",
            "Status": "open",
            "CustomFields": [custom_field("Model", None), custom_field("Area", None, "Hall")],
        }
    )

    assert ticket.custom_fields == {"Model": "", "Area": "Hall"}


def test_asset_without_custom_fields_has_none():
    asset = Asset.from_json({"id": "3", "Name": "Lamp", "Status": "new"})

    assert asset == Asset(id=3, name="Lamp", status="new", last_updated=None, custom_fields=None)


def test_asset_with_custom_fields_and_last_updated():
    asset = Asset.from_json(
        {
            "id": 3,
            "Name": "Lamp",
            "Status": "in-use",
            "LastUpdated": "2026-12-04T20:51:09Z",
            "CustomFields": [custom_field("Model", "X")],
        }
    )

    assert asset.last_updated == "2026-12-04T20:51:09Z"
    assert asset.custom_fields == {"Model": "X"}


def test_queue_lists_ticket_custom_field_names():
    queue = Queue.from_json(
        {
            "id": 3,
            "Name": "Facilities",
            "TicketCustomFields": [
                {"id": "2", "name": "DeviceId", "type": "customfield"},
                {"id": "3", "name": "Area", "type": "customfield"},
            ],
        }
    )

    assert queue == Queue(id=3, name="Facilities", custom_fields=frozenset({"DeviceId", "Area"}))


def test_queue_without_custom_field_list_has_none():
    queue = Queue.from_json({"id": 3, "Name": "Facilities"})

    assert queue.custom_fields == frozenset()


def test_catalog_takes_custom_field_names_from_caller():
    catalog = Catalog.from_json({"id": 2, "Name": "Devices"}, frozenset({"DeviceId"}))

    assert catalog == Catalog(id=2, name="Devices", custom_fields=frozenset({"DeviceId"}))


@pytest.mark.parametrize("raw_id", [0, -1, "0", "7a", "", " 7", "٣", 7.0, None, True])
def test_invalid_id_rejected(raw_id):
    with pytest.raises(RTInvalidResponseError, match="id"):
        Ticket.from_json({"id": raw_id, "Subject": "Leak", "Status": "new"})


def test_page_accepts_float_pages():
    page = Page.from_json({"items": [], "page": 1, "per_page": 100, "pages": 0.0}, "search")

    assert page.pages == 0
    assert page.is_last(1, 100)


@pytest.mark.parametrize(
    ("count", "per_page", "pages", "requested", "expected"),
    [
        (0, 100, None, 1, True),
        (99, 100, None, 1, True),
        (100, 100, None, 1, False),
        (100, 100, 1, 1, True),
        (100, 100, 3, 2, False),
        (100, 100, 3, 3, True),
        (50, 50, None, 1, False),
        (50, None, None, 1, True),
    ],
)
def test_page_is_last(count, per_page, pages, requested, expected):
    page = Page(
        items=[{"id": i} for i in range(count)],
        page=requested,
        per_page=per_page,
        pages=pages,
        next_page=None,
    )

    assert page.is_last(requested, 100) is expected


FIRST = URL("https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=1")


@pytest.mark.parametrize(
    ("next_page", "expected"),
    [
        (None, "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2"),
        (
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&=&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://RT.example.com:443/REST/2.0/tickets?query=x&marker=1&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&marker=1&page=2",
        ),
        (
            "https://user@rt.example.com/REST/2.0/tickets?query=x&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "http://rt.example.com/REST/2.0/tickets?query=x&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://evil.example.net/REST/2.0/tickets?query=x&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://rt.example.com:8443/REST/2.0/tickets?query=x&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://rt.example.com/REST/2.0/assets?query=x&page=2",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://rt.example.com/REST/2.0/tickets?query=x&page=5",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
        (
            "https://user@rt.example.com:notaport/x",
            "https://rt.example.com/REST/2.0/tickets?query=x&per_page=100&page=2",
        ),
    ],
)
def test_next_page_url_stays_on_origin(next_page, expected):
    assert str(next_page_url(next_page, FIRST, 2)) == expected


@pytest.mark.parametrize(
    "message",
    [
        "Asset Lamp: You can't change status from 'new' to 'recycled'.",
        "Asset Lamp: Status 'bogus' isn't a valid status for this asset.",
        "Ticket 7: Status 'bogus' isn't a valid status for this ticket.",
        "Asset Lamp: Permission Denied",
        "Asset : You can't change status from 'deleted' to 'new'.",
        "Permission Denied",
        "Custom field Model not found",
        "Custom field 12 does not apply to this object",
        "Invalid value for custom field",
        "Could not add a new value to custom field 'Model': too long",
        "Couldn't create a transaction: database locked",
    ],
)
def test_rejection_message_detected(message):
    assert _rejections((message,)) == (message,)


@pytest.mark.parametrize(
    "message",
    [
        "Asset Lamp: Status changed from 'new' to 'in-use'",
        "Asset Lamp: Name changed from 'a' to 'Permission Denied here'",
        "Asset : Asset deleted",
        "Model M1 added",
        "Model M1 changed to M2",
        "Model M2 deleted",
        "Ticket 7: Status changed from 'new' to 'resolved'",
        "DeviceId You can't change status added",
    ],
)
def test_success_message_not_rejection(message):
    assert _rejections((message,)) == ()
