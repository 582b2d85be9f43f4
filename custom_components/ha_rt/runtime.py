"""Creation of what a loaded config entry needs: RT session, client, tickets, assets, outbox.

Setup runs the same checks as the config flow. A rejected token starts a
reauthentication, other failures make Home Assistant retry the setup later, and custom
fields missing in RT raise a repair issue. One exception: when RT cannot be reached, the
outbox is on and the same URL passed the checks before, setup goes on without RT so that
calls can be queued, and the outbox reloads the entry once RT responds. The custom fields
are checked again every hour while the entry is loaded, because an RT administrator may
change them at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.event import async_track_time_interval

from .assets import AssetSync
from .const import DOMAIN, LOGGER
from .data import EntrySettings, RTConfigEntry, RTRuntimeData
from .issues import async_update_missing_custom_fields_issue, device_id_missing
from .outbox import Outbox
from .rt import RTError
from .tickets import TicketManager
from .validation import (
    CheckFailure,
    RTCheckError,
    RTCheckResult,
    async_check_rt,
    create_rt_client,
    create_rt_session,
    normalize_rt_url,
)

if TYPE_CHECKING:
    from homeassistant.exceptions import IntegrationError

    from .rt import RTClient

CUSTOM_FIELD_CHECK_INTERVAL: Final = timedelta(hours=1)


async def async_create_runtime_data(hass: HomeAssistant, entry: RTConfigEntry) -> RTRuntimeData:
    """Check RT, then create and start the objects that live while the entry is loaded.

    Raises:
        ConfigEntryAuthFailed: RT rejected the token (HTTP 401).
        ConfigEntryNotReady: any other failed check, an RT error, or a queue or catalog
            without the DeviceId custom field. An unreachable RT raises it only when
            the entry cannot start without RT (see Outbox.can_start_without_rt).

    """
    settings = EntrySettings.from_entry(entry)
    try:
        normalize_rt_url(settings.url, allow_private_network=settings.allow_private_network)
    except RTCheckError as err:
        raise _setup_error(settings, err) from err

    session = create_rt_session(settings)
    try:
        client = create_rt_client(session, settings)
        tickets = TicketManager(hass, entry, client, settings)
        outbox = Outbox(hass, entry, client, settings, tickets)
        await outbox.async_load()

        result = await _async_check_for_setup(hass, entry, client, settings, outbox)
        tickets.outbox = outbox

        assets = AssetSync(hass, entry, client, settings)
        await assets.async_start()
    except BaseException:
        await session.close()
        raise

    if result is not None:
        LOGGER.debug(
            "Connected to RT %s at %s, queue %r (id %s), catalog %r (id %s)",
            result.server.version,
            settings.url,
            result.queue.name,
            result.queue.id,
            result.catalog.name,
            result.catalog.id,
        )
    _schedule_custom_field_check(hass, entry, client, settings)

    async def _async_close_session(_event: Event) -> None:
        await session.close()

    # Home Assistant does not unload config entries when it stops, so the session is
    # also closed when it shuts down, as its own shared sessions are.
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_CLOSE, _async_close_session))
    return RTRuntimeData(
        client=client, session=session, tickets=tickets, assets=assets, outbox=outbox
    )


async def _async_check_for_setup(
    hass: HomeAssistant,
    entry: RTConfigEntry,
    client: RTClient,
    settings: EntrySettings,
    outbox: Outbox,
) -> RTCheckResult | None:
    """Run the checks and turn their failures into the exceptions setup raises.

    Returns None when RT cannot be reached but the entry may start without it.
    """
    try:
        result = await async_check_rt(client, settings)
    except RTCheckError as err:
        if err.failure is CheckFailure.CANNOT_CONNECT and outbox.can_start_without_rt():
            outbox.async_start_without_rt(err)
            return None
        raise _setup_error(settings, err) from err
    except RTError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="setup_rt_error",
            translation_placeholders={"url": settings.url, "error": str(err)},
        ) from err

    async_update_missing_custom_fields_issue(hass, entry, result.missing)
    if device_id_missing(result.missing):
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="setup_device_id_missing",
            translation_placeholders={"missing_custom_fields": result.missing.describe()},
        )

    await outbox.async_rt_checked()
    return result


def _setup_error(settings: EntrySettings, err: RTCheckError) -> IntegrationError:
    """Return the exception setup raises for a failed check."""
    placeholders = {
        "url": settings.url,
        "queue": settings.queue,
        "catalog": settings.catalog,
        "error": str(err),
    }

    # Only a 401 means the token is bad, because RT responds with 403 for missing rights too.
    if err.token_rejected:
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="setup_invalid_auth",
            translation_placeholders=placeholders,
        )

    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key=f"setup_{err.failure}",
        translation_placeholders=placeholders,
    )


@callback
def _schedule_custom_field_check(
    hass: HomeAssistant, entry: RTConfigEntry, client: RTClient, settings: EntrySettings
) -> None:
    """Check the custom fields every hour until the entry unloads."""

    @callback
    def _async_check_due(_now: datetime) -> None:
        entry.async_create_background_task(
            hass,
            _async_check_custom_fields(hass, entry, client, settings),
            f"{DOMAIN} custom field check of {entry.title}",
        )

    entry.async_on_unload(
        async_track_time_interval(
            hass,
            _async_check_due,
            CUSTOM_FIELD_CHECK_INTERVAL,
            name=f"{DOMAIN} custom field check of {entry.title}",
            cancel_on_shutdown=True,
        )
    )


async def _async_check_custom_fields(
    hass: HomeAssistant, entry: RTConfigEntry, client: RTClient, settings: EntrySettings
) -> None:
    """Update the repair issue from RT, and reload the entry when DeviceId went missing.

    A failed check leaves the issue as it is, because an RT outage tells nothing about the
    custom fields. The ticket and asset code reports its own failures.
    """
    try:
        result = await async_check_rt(client, settings)
    except (RTCheckError, RTError) as err:
        LOGGER.debug("Custom field check of %s skipped: %s", entry.title, err)
        return

    async_update_missing_custom_fields_issue(hass, entry, result.missing)

    if device_id_missing(result.missing):
        # Tickets without DeviceId escape the deduplication search, so every alert would
        # open a new ticket. The reload fails until the field is back, and setup retries.
        LOGGER.warning(
            "RT no longer shows custom field DeviceId for %s (%s); reloading the entry, "
            "which stays unloaded until the field is applied again",
            entry.title,
            result.missing.describe(),
        )
        hass.config_entries.async_schedule_reload(entry.entry_id)
