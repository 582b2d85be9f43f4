"""Helpers for the config flow, setup, repair and diagnostics tests against the test RT.

The test RT serves https://127.0.0.1 with a self-signed certificate. Entries here keep
certificate verification on: the `trust_rt_certificate` context manager makes the
integration use a copy of Home Assistant's client SSL context that also trusts the test
RT's certificate, so the verifying code path runs unchanged. Loopback needs the local
network opt-in, as any RT server on a LAN does.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.util.ssl import create_client_context
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ha_rt.const import (
    ASSET_CUSTOM_FIELDS,
    CONF_ADDRESS,
    CONF_ALLOW_PRIVATE_NETWORK,
    CONF_CATALOG,
    CONF_HA_URL,
    CONF_QUEUE,
    CONF_SYNC_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    CONF_VERIFY_SSL,
    DOMAIN,
    TICKET_CUSTOM_FIELDS,
)
from custom_components.ha_rt.validation import config_entry_unique_id

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator, Sequence

    from .rt_server import RTServer

ADDRESS = "Rue de la Gare 5, Lausanne"
HA_URL = "http://homeassistant.local:8123"

_numbers = itertools.count(1)


def unique_name(prefix: str) -> str:
    """Return a queue or catalog name not used before in this test session."""
    return f"{prefix} {next(_numbers)}"


@contextlib.contextmanager
def trust_rt_certificate(rt_server: RTServer) -> Iterator[ssl.SSLContext]:
    """Make the integration's verifying SSL context trust the test RT's certificate.

    The context comes from Home Assistant's own factory (certifi's CA bundle, the same
    options as the shared default context), so only the extra trust anchor differs.
    """
    context = create_client_context()
    context.load_verify_locations(cafile=rt_server.ca_file)
    with patch("custom_components.ha_rt.validation.get_default_context", return_value=context):
        yield context


def flow_input(rt_server: RTServer, **overrides: Any) -> dict[str, Any]:
    """Return the user step's input for the test RT, with some fields replaced."""
    user_input: dict[str, Any] = {
        CONF_URL: rt_server.url,
        CONF_TOKEN: rt_server.token,
        CONF_QUEUE: rt_server.queue,
        CONF_CATALOG: rt_server.catalog,
        CONF_HA_URL: HA_URL,
        CONF_ADDRESS: ADDRESS,
        CONF_SYNC_INTERVAL: 6,
        CONF_ALLOW_PRIVATE_NETWORK: True,
        CONF_VERIFY_SSL: True,
    }
    user_input.update(overrides)
    return user_input


def rt_config_entry(
    rt_server: RTServer, *, title: str | None = None, **changes: Any
) -> MockConfigEntry:
    """Return a config entry for the test RT as the user step creates it, not yet added.

    `changes` replace values of the entry's data or options by key, such as queue="X".
    """
    data: dict[str, Any] = {
        CONF_URL: rt_server.url,
        CONF_TOKEN: rt_server.token,
        CONF_QUEUE: rt_server.queue,
        CONF_ALLOW_PRIVATE_NETWORK: True,
        CONF_VERIFY_SSL: True,
    }
    options: dict[str, Any] = {
        CONF_CATALOG: rt_server.catalog,
        CONF_HA_URL: HA_URL,
        CONF_ADDRESS: ADDRESS,
        CONF_SYNC_INTERVAL: 6,
    }
    for key, value in changes.items():
        target = data if key in data else options
        assert key in target, f"unknown config entry key {key!r}"
        target[key] = value

    return MockConfigEntry(
        domain=DOMAIN,
        title=title or f"{data[CONF_QUEUE]} (127.0.0.1)",
        unique_id=config_entry_unique_id(data[CONF_URL], data[CONF_QUEUE]),
        data=data,
        options=options,
    )


def create_queue(rt_server: RTServer, fields: Sequence[str] = TICKET_CUSTOM_FIELDS) -> str:
    """Create a queue with the given ticket custom fields and return its name."""
    name = unique_name("Flow test queue")
    rt_server.create_queue(name, custom_fields=list(fields))
    return name


def create_catalog(
    rt_server: RTServer, fields: Sequence[str] = ASSET_CUSTOM_FIELDS, *, with_asset: bool = True
) -> str:
    """Create a catalog with the given asset custom fields and return its name.

    With `with_asset`, the catalog gets one asset, because RT 5.0.3 shows a catalog's
    custom fields to a user with catalog-level rights only through its assets.
    """
    name = unique_name("Flow test catalog")
    rt_server.create_catalog(name, custom_fields=list(fields))
    if with_asset:
        rt_server.perl(
            """
            my $asset = RT::Asset->new(RT->SystemUser);
            my ($ok, $msg) = $asset->Create(Catalog => $args->{catalog}, Name => 'Probe');
            die "creating an asset failed: $msg\\n" unless $ok;
            """,
            {"catalog": name},
        )
    return name


def remove_custom_field(rt_server: RTServer, kind: str, object_name: str, field: str) -> None:
    """Stop applying a custom field to a queue (kind "queue") or catalog (kind "catalog")."""
    _apply_custom_field(rt_server, kind, object_name, field, apply=False)


def apply_custom_field(rt_server: RTServer, kind: str, object_name: str, field: str) -> None:
    """Apply a custom field to a queue (kind "queue") or catalog (kind "catalog") again."""
    _apply_custom_field(rt_server, kind, object_name, field, apply=True)


def _apply_custom_field(
    rt_server: RTServer, kind: str, object_name: str, field: str, *, apply: bool
) -> None:
    rt_server.perl(
        """
        my ($class, $lookup) = $args->{kind} eq 'queue'
            ? ('RT::Queue', RT::Ticket->CustomFieldLookupType)
            : ('RT::Catalog', RT::Asset->CustomFieldLookupType);
        my $object = $class->new(RT->SystemUser);
        $object->Load($args->{object});
        die "$args->{kind} '$args->{object}' not found\\n" unless $object->id;
        my $field = custom_field($args->{field}, $lookup);
        my ($ok, $msg) = $args->{apply}
            ? $field->AddToObject($object)
            : $field->RemoveFromObject($object);
        die "changing custom field '$args->{field}' failed: $msg\\n" unless $ok;
        """,
        {"kind": kind, "object": object_name, "field": field, "apply": 1 if apply else 0},
    )


def create_token_without_rights(rt_server: RTServer) -> str:
    """Create a privileged RT user without rights on any queue or catalog; return its token."""
    user = unique_name("norights").replace(" ", "")
    return rt_server.perl(
        """
        create_user($args->{user});
        print create_token($args->{user}, 'no rights');
        """,
        {"user": user},
    ).strip()
