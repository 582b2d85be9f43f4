"""Runtime data stored on each loaded config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .const import (
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
    DEFAULT_ALLOW_PRIVATE_NETWORK,
    DEFAULT_OUTBOX_ENABLED,
    DEFAULT_OUTBOX_MAX_AGE_HOURS,
    DEFAULT_OUTBOX_MAX_PENDING,
    DEFAULT_SYNC_INTERVAL_HOURS,
    DEFAULT_VERIFY_SSL,
)

if TYPE_CHECKING:
    from aiohttp import ClientSession

    from .assets import AssetSync
    from .outbox import Outbox
    from .rt import RTClient
    from .tickets import TicketManager


@dataclass(slots=True)
class RTRuntimeData:
    """Objects that live as long as a loaded config entry."""

    client: RTClient
    session: ClientSession
    tickets: TicketManager
    assets: AssetSync
    outbox: Outbox


type RTConfigEntry = ConfigEntry[RTRuntimeData]


@dataclass(frozen=True, slots=True)
class EntrySettings:
    """A config entry's settings, read from its data with its options on top.

    The config flow stores the connection (url, token, queue, network and TLS choices) in
    the entry's data and the settings the options flow edits (catalog, Home Assistant
    URL, address, sync interval, outbox) in its options. The outbox settings have
    defaults because entries created before the outbox existed lack them.
    """

    url: str
    token: str
    queue: str
    catalog: str
    ha_url: str
    address: str
    sync_interval_hours: int
    allow_private_network: bool
    verify_ssl: bool
    outbox_enabled: bool = DEFAULT_OUTBOX_ENABLED
    outbox_max_pending: int = DEFAULT_OUTBOX_MAX_PENDING
    outbox_max_age_hours: int = DEFAULT_OUTBOX_MAX_AGE_HOURS

    @classmethod
    def from_entry(cls, entry: ConfigEntry) -> EntrySettings:
        """Read the settings of a config entry."""
        merged = {**entry.data, **entry.options}
        return cls(
            url=str(merged[CONF_URL]),
            token=str(merged[CONF_TOKEN]),
            queue=str(merged[CONF_QUEUE]),
            catalog=str(merged.get(CONF_CATALOG, "")),
            ha_url=str(merged.get(CONF_HA_URL) or ""),
            address=str(merged.get(CONF_ADDRESS) or ""),
            sync_interval_hours=int(merged.get(CONF_SYNC_INTERVAL, DEFAULT_SYNC_INTERVAL_HOURS)),
            allow_private_network=bool(
                merged.get(CONF_ALLOW_PRIVATE_NETWORK, DEFAULT_ALLOW_PRIVATE_NETWORK)
            ),
            verify_ssl=bool(merged.get(CONF_VERIFY_SSL, DEFAULT_VERIFY_SSL)),
            outbox_enabled=bool(merged.get(CONF_OUTBOX_ENABLED, DEFAULT_OUTBOX_ENABLED)),
            outbox_max_pending=int(merged.get(CONF_OUTBOX_MAX_PENDING, DEFAULT_OUTBOX_MAX_PENDING)),
            outbox_max_age_hours=int(merged.get(CONF_OUTBOX_MAX_AGE, DEFAULT_OUTBOX_MAX_AGE_HOURS)),
        )
