"""Typed records parsed from Request Tracker REST2 JSON.

Every `from_json` checks the shape it relies on and raises RTInvalidResponseError
otherwise. RT 5.0.3 sends record ids as strings in create responses and search items
("7"), but as integers in a record GET (7). The models always contain an int.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from .errors import RTInvalidResponseError

# LookupType of custom fields that apply to assets, as RT 5 stores it.
ASSET_CUSTOM_FIELD_LOOKUP_TYPE = "RT::Catalog-RT::Asset"


def _require_object(data: object, context: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        msg = (
            f"Invalid RT response for {context}: expected a JSON object, got {type(data).__name__}"
        )
        raise RTInvalidResponseError(msg)
    return data


def _require_str(data: dict[str, Any], key: str, context: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        msg = f"Invalid RT response for {context}: {key!r} is missing or not a string"
        raise RTInvalidResponseError(msg)
    return value


def _optional_str(data: dict[str, Any], key: str, context: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        msg = f"Invalid RT response for {context}: {key!r} is not a string"
        raise RTInvalidResponseError(msg)
    return value


def parse_id(value: object, context: str) -> int:
    """Return an RT record id sent as an int or as a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value

    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)

    msg = f"Invalid RT response for {context}: id {value!r} is not a positive integer"
    raise RTInvalidResponseError(msg)


def parse_custom_field_values(data: object, context: str) -> dict[str, str]:
    """Map each custom field name to its first value, or "" when it has none.

    RT sends custom fields as a list of {"name": ..., "values": [...]}. The fields that
    the integration uses allow one value each. After a value is deleted, RT 5.0.3 lists
    it as null, which counts as no value.
    """
    if not isinstance(data, list):
        msg = f"Invalid RT response for {context}: 'CustomFields' is not a list"
        raise RTInvalidResponseError(msg)

    result: dict[str, str] = {}
    for entry in data:
        field = _require_object(entry, f"{context} custom field")
        name = _require_str(field, "name", f"{context} custom field")
        values = field.get("values")
        if not isinstance(values, list) or not all(
            item is None or isinstance(item, str) for item in values
        ):
            msg = (
                f"Invalid RT response for {context}: "
                f"values of custom field {name!r} are not a list of strings"
            )
            raise RTInvalidResponseError(msg)

        present = [item for item in values if item is not None]
        result[name] = present[0] if present else ""

    return result


def _custom_field_names(data: object, key: str, context: str) -> frozenset[str]:
    if data is None:
        return frozenset()

    if not isinstance(data, list):
        msg = f"Invalid RT response for {context}: {key!r} is not a list"
        raise RTInvalidResponseError(msg)

    return frozenset(
        _require_str(_require_object(entry, f"{context} custom field"), "name", context)
        for entry in data
    )


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Version of the RT server, from GET /REST/2.0/rt."""

    version: str

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse the response of GET /REST/2.0/rt."""
        body = _require_object(data, "server information")
        return cls(version=_require_str(body, "Version", "server information"))


@dataclass(frozen=True, slots=True)
class Queue:
    """RT queue with the names of the ticket custom fields applied to it.

    The names include global ticket custom fields, and only those the token may see.
    """

    id: int
    name: str
    custom_fields: frozenset[str]

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse the response of GET /REST/2.0/queue/{name}."""
        body = _require_object(data, "queue")
        return cls(
            id=parse_id(body.get("id"), "queue"),
            name=_require_str(body, "Name", "queue"),
            custom_fields=_custom_field_names(
                body.get("TicketCustomFields"), "TicketCustomFields", "queue"
            ),
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """RT asset catalog with the names of the asset custom fields applied to it."""

    id: int
    name: str
    custom_fields: frozenset[str]

    @classmethod
    def from_json(cls, data: object, custom_fields: frozenset[str] = frozenset()) -> Self:
        """Parse the response of GET /REST/2.0/catalog/{name}.

        RT does not list custom fields in a catalog record, so the caller passes the
        names it found elsewhere.
        """
        body = _require_object(data, "catalog")
        return cls(
            id=parse_id(body.get("id"), "catalog"),
            name=_require_str(body, "Name", "catalog"),
            custom_fields=custom_fields,
        )


@dataclass(frozen=True, slots=True)
class Ticket:
    """RT ticket with its single-value custom fields.

    `custom_fields` is empty when the request did not ask RT for CustomFields.
    """

    id: int
    subject: str
    status: str
    custom_fields: dict[str, str]

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse a ticket record or a ticket search item that carries Subject and Status."""
        body = _require_object(data, "ticket")
        custom_fields = body.get("CustomFields")
        return cls(
            id=parse_id(body.get("id"), "ticket"),
            subject=_require_str(body, "Subject", "ticket"),
            status=_require_str(body, "Status", "ticket"),
            custom_fields=(
                {} if custom_fields is None else parse_custom_field_values(custom_fields, "ticket")
            ),
        )


@dataclass(frozen=True, slots=True)
class Asset:
    """RT asset.

    `last_updated` is RT's ISO 8601 UTC timestamp, for example 2026-12-04T20:51:09Z, or
    None when the response did not contain it. `custom_fields` is None when the request
    did not ask RT for CustomFields.
    """

    id: int
    name: str
    status: str
    last_updated: str | None
    custom_fields: dict[str, str] | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse an asset record or an asset search item that carries Name and Status."""
        body = _require_object(data, "asset")
        custom_fields = body.get("CustomFields")
        return cls(
            id=parse_id(body.get("id"), "asset"),
            name=_require_str(body, "Name", "asset"),
            status=_require_str(body, "Status", "asset"),
            last_updated=_optional_str(body, "LastUpdated", "asset"),
            custom_fields=(
                None if custom_fields is None else parse_custom_field_values(custom_fields, "asset")
            ),
        )
