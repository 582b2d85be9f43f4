"""Actions of the Service Management integration: schemas, entry resolution, responses."""

from __future__ import annotations

import probatio
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_SUBJECT,
    ATTR_TEXT,
    DOMAIN,
    SERVICE_CREATE_TICKET,
    SERVICE_RESOLVE_TICKET,
    SERVICE_SYNC_ASSETS,
)
from .data import EntrySettings, RTConfigEntry
from .rt import RTAuthenticationError, RTConnectionError, RTError, RTPermissionError

_ENTRY_FIELD: dict[probatio.Optional, object] = {probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}

CREATE_TICKET_SCHEMA = probatio.Schema(
    {
        **_ENTRY_FIELD,
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Required(ATTR_SUBJECT): cv.string,
        probatio.Required(ATTR_TEXT): cv.string,
    }
)
RESOLVE_TICKET_SCHEMA = probatio.Schema(
    {
        **_ENTRY_FIELD,
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Optional(ATTR_TEXT): cv.string,
    }
)
SYNC_ASSETS_SCHEMA = probatio.Schema(
    {
        **_ENTRY_FIELD,
        probatio.Optional(ATTR_DEVICE_ID): cv.string,
    }
)


def get_loaded_entry(hass: HomeAssistant, call: ServiceCall) -> RTConfigEntry:
    """Return the loaded config entry an action call targets.

    Without config_entry_id the call may target the only loaded entry. With several
    loaded entries the caller must choose, because a ticket in the wrong RT is worse
    than an error.
    """
    entry_id: str | None = call.data.get(ATTR_CONFIG_ENTRY_ID)

    if entry_id is None:
        loaded: list[RTConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
        if len(loaded) == 1:
            return loaded[0]
        if not loaded:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="no_loaded_entry"
            )
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="config_entry_required",
            translation_placeholders={"count": str(len(loaded))},
        )

    entry: RTConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="config_entry_not_found",
            translation_placeholders={"config_entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="config_entry_not_loaded",
            translation_placeholders={"config_entry_id": entry_id, "title": entry.title},
        )
    return entry


async def _async_create_ticket(call: ServiceCall) -> ServiceResponse:
    """Create a ticket for a device, or comment on its open one."""
    entry = get_loaded_entry(call.hass, call)
    result = await entry.runtime_data.tickets.async_create_ticket(
        call.data[ATTR_DEVICE_ID], call.data[ATTR_SUBJECT], call.data[ATTR_TEXT]
    )
    return result.as_response()


async def _async_resolve_ticket(call: ServiceCall) -> ServiceResponse:
    """Resolve every open ticket of a device, with an optional comment."""
    entry = get_loaded_entry(call.hass, call)
    result = await entry.runtime_data.tickets.async_resolve_ticket(
        call.data[ATTR_DEVICE_ID], call.data.get(ATTR_TEXT)
    )
    return result.as_response()


async def _async_sync_assets(call: ServiceCall) -> ServiceResponse:
    """Sync one device, or every device, to RT assets."""
    entry = get_loaded_entry(call.hass, call)
    device_id: str | None = call.data.get(ATTR_DEVICE_ID)

    try:
        report = await entry.runtime_data.assets.async_sync(device_id)
    except RTError as err:
        raise _asset_sync_error(call.hass, entry, device_id, err) from err

    return report.as_response()


def _asset_sync_error(
    hass: HomeAssistant, entry: RTConfigEntry, device_id: str | None, err: RTError
) -> HomeAssistantError:
    """Translate an RT error of sync_assets; a rejected token also starts a reauthentication."""
    settings = EntrySettings.from_entry(entry)
    placeholders = {
        "url": settings.url,
        "catalog": settings.catalog,
        "target": f"device {device_id}" if device_id else "all devices",
        "error": str(err),
    }

    if isinstance(err, RTAuthenticationError):
        entry.async_start_reauth(hass)
        key = "assets_invalid_auth"
    elif isinstance(err, RTConnectionError):
        key = "assets_cannot_connect"
    elif isinstance(err, RTPermissionError):
        key = "assets_permission_denied"
    else:
        key = "assets_rt_error"

    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_TICKET,
        _async_create_ticket,
        schema=CREATE_TICKET_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_RESOLVE_TICKET,
        _async_resolve_ticket,
        schema=RESOLVE_TICKET_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SYNC_ASSETS,
        _async_sync_assets,
        schema=SYNC_ASSETS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
