"""Constants for the Service Management (Request Tracker) integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "ha_rt"
LOGGER = logging.getLogger(__package__)

# Config entry data and options keys: fixed public interface, typed by users.
CONF_URL: Final = "url"
CONF_TOKEN: Final = "token"  # noqa: S105  # the key name, not a secret
CONF_QUEUE: Final = "queue"
CONF_CATALOG: Final = "catalog"
CONF_HA_URL: Final = "ha_url"
CONF_ADDRESS: Final = "address"
CONF_SYNC_INTERVAL: Final = "sync_interval"
CONF_ALLOW_PRIVATE_NETWORK: Final = "allow_private_network"
CONF_VERIFY_SSL: Final = "verify_ssl"

DEFAULT_SYNC_INTERVAL_HOURS: Final = 6
MIN_SYNC_INTERVAL_HOURS: Final = 1
MAX_SYNC_INTERVAL_HOURS: Final = 24
DEFAULT_ALLOW_PRIVATE_NETWORK: Final = False
DEFAULT_VERIFY_SSL: Final = True

# Outbox options: whether ticket requests wait in the outbox while RT cannot be reached,
# and the limits that keep it from growing without bound.
CONF_OUTBOX_ENABLED: Final = "outbox_enabled"
CONF_OUTBOX_MAX_PENDING: Final = "outbox_max_pending"
CONF_OUTBOX_MAX_AGE: Final = "outbox_max_age"
DEFAULT_OUTBOX_ENABLED: Final = True
DEFAULT_OUTBOX_MAX_PENDING: Final = 1000
MIN_OUTBOX_MAX_PENDING: Final = 10
MAX_OUTBOX_MAX_PENDING: Final = 10000
DEFAULT_OUTBOX_MAX_AGE_HOURS: Final = 72
MIN_OUTBOX_MAX_AGE_HOURS: Final = 1
MAX_OUTBOX_MAX_AGE_HOURS: Final = 720

# Action names and fields.
SERVICE_CREATE_TICKET: Final = "create_ticket"
SERVICE_RESOLVE_TICKET: Final = "resolve_ticket"
SERVICE_SYNC_ASSETS: Final = "sync_assets"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_SUBJECT: Final = "subject"
ATTR_TEXT: Final = "text"

# Ticket custom fields (RT freeform custom fields applied to the queue).
CF_DEVICE_ID: Final = "DeviceId"
CF_DEVICE_INFORMATION: Final = "Device Information"
CF_AREA: Final = "Area"
CF_ADDRESS: Final = "Address"
TICKET_CUSTOM_FIELDS: Final = (CF_DEVICE_ID, CF_DEVICE_INFORMATION, CF_AREA, CF_ADDRESS)

# Asset custom fields (RT freeform custom fields applied to the catalog). Area and
# Address are written to assets only when the catalog has them.
CF_MANUFACTURER: Final = "Manufacturer"
CF_MODEL: Final = "Model"
CF_SERIAL_NUMBER: Final = "Serial Number"
CF_FIRMWARE_VERSION: Final = "Firmware Version"
CF_HARDWARE_VERSION: Final = "Hardware Version"
CF_CONFIGURATION_URL: Final = "Configuration URL"
CF_MAC_ADDRESS: Final = "MAC Address"
ASSET_CUSTOM_FIELDS: Final = (
    CF_DEVICE_ID,
    CF_MANUFACTURER,
    CF_MODEL,
    CF_SERIAL_NUMBER,
    CF_FIRMWARE_VERSION,
    CF_HARDWARE_VERSION,
    CF_CONFIGURATION_URL,
    CF_MAC_ADDRESS,
)
OPTIONAL_ASSET_CUSTOM_FIELDS: Final = (CF_AREA, CF_ADDRESS)

# RT ticket statuses that count as open for deduplication and resolve_ticket.
OPEN_TICKET_STATUSES: Final = ("new", "open", "stalled")

# Event fired on the bus for each ticket an action created, commented on or resolved.
EVENT_TICKET: Final = "ha_rt_ticket"

# Event data key of a delivery from the outbox: the id the queued call returned.
ATTR_OUTBOX_ID: Final = "outbox_id"
