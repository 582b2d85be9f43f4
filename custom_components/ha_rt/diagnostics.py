"""Diagnostics of a config entry: its settings without secrets, and what RT shows now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import ConfigEntryState
from yarl import URL

from .const import CONF_ADDRESS, CONF_HA_URL, CONF_TOKEN, CONF_URL
from .data import EntrySettings
from .rt import RTError
from .validation import (
    RTCheckError,
    async_check_rt,
    create_rt_client,
    create_rt_session,
    normalize_rt_url,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .data import RTConfigEntry
    from .rt import RTClient
    from .validation import RTCheckResult

# The token is a secret. The URLs and the address locate the user's servers and home,
# and diagnostics are often attached to public bug reports.
TO_REDACT: Final = {CONF_TOKEN, CONF_URL, CONF_HA_URL, CONF_ADDRESS}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001
    entry: RTConfigEntry,
) -> dict[str, Any]:
    """Return the entry's settings, redacted, and the result of the RT checks run now.

    The checks also run for an entry that failed to load, through a session of their
    own, because that is when diagnostics are needed most.
    """
    settings = EntrySettings.from_entry(entry)

    if entry.state is ConfigEntryState.LOADED:
        rt_state = await _async_rt_state(entry.runtime_data.client, settings)
    else:
        rt_state = await _async_rt_state_without_entry(settings)

    return {
        "state": entry.state.value,
        "setup_error": entry.error_reason_translation_key,
        "data": async_redact_data(entry.data, TO_REDACT),
        "options": async_redact_data(entry.options, TO_REDACT),
        "rt": rt_state,
    }


async def _async_rt_state_without_entry(settings: EntrySettings) -> dict[str, Any]:
    """Run the setup checks through a session opened for them."""
    try:
        normalize_rt_url(settings.url, allow_private_network=settings.allow_private_network)
    except RTCheckError as err:
        return {"failure": err.failure.value, "error": _scrub(str(err), settings)}

    session = create_rt_session(settings)
    try:
        return await _async_rt_state(create_rt_client(session, settings), settings)
    finally:
        await session.close()


async def _async_rt_state(client: RTClient, settings: EntrySettings) -> dict[str, Any]:
    """Run the setup checks again and describe their result or failure."""
    try:
        result = await async_check_rt(client, settings)
    except RTCheckError as err:
        return {"failure": err.failure.value, "error": _scrub(str(err), settings)}
    except RTError as err:
        return {"failure": type(err).__name__, "error": _scrub(str(err), settings)}

    return _describe_result(result)


def _describe_result(result: RTCheckResult) -> dict[str, Any]:
    return {
        "version": result.server.version,
        "queue": {
            "id": result.queue.id,
            "name": result.queue.name,
            "custom_fields": sorted(result.queue.custom_fields),
        },
        "catalog": {
            "id": result.catalog.id,
            "name": result.catalog.name,
            "custom_fields": sorted(result.catalog.custom_fields),
        },
        "missing_custom_fields": {
            "queue": list(result.missing.ticket_fields),
            "catalog": list(result.missing.asset_fields),
        },
    }


def _scrub(message: str, settings: EntrySettings) -> str:
    """Replace the token, the RT URL and the RT host in an error message."""
    for secret in (settings.token, settings.url, URL(settings.url).host or ""):
        if secret:
            message = message.replace(secret, REDACTED)
    return message
