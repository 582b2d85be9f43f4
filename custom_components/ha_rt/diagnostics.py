"""Diagnostics of a config entry: its settings without secrets, and what RT shows now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from yarl import URL

from .const import CONF_ADDRESS, CONF_HA_URL, CONF_TOKEN, CONF_URL
from .data import EntrySettings
from .rt import RTError
from .validation import RTCheckError, async_check_rt

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
    """Return the entry's settings, redacted, and the result of the RT checks run now."""
    settings = EntrySettings.from_entry(entry)

    return {
        "data": async_redact_data(entry.data, TO_REDACT),
        "options": async_redact_data(entry.options, TO_REDACT),
        "rt": await _async_rt_state(entry.runtime_data.client, settings),
    }


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
