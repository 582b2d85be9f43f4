"""Config flow of the Service Management integration: user, reauth, reconfigure, options.

Every step checks RT with the same routine as entry setup (validation.py) before it
stores anything, so a config entry never contains settings that failed a check.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, override

import probatio
from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.typing import UNDEFINED, UndefinedType
from yarl import URL

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
    DOMAIN,
    LOGGER,
    MAX_OUTBOX_MAX_AGE_HOURS,
    MAX_OUTBOX_MAX_PENDING,
    MAX_SYNC_INTERVAL_HOURS,
    MIN_OUTBOX_MAX_AGE_HOURS,
    MIN_OUTBOX_MAX_PENDING,
    MIN_SYNC_INTERVAL_HOURS,
)
from .data import EntrySettings
from .validation import (
    RTCheckError,
    async_validate_settings,
    config_entry_unique_id,
    normalize_rt_url,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .data import RTConfigEntry

_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_TEXT_SELECTOR = TextSelector()
_SYNC_INTERVAL_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        min=MIN_SYNC_INTERVAL_HOURS,
        max=MAX_SYNC_INTERVAL_HOURS,
        step=1,
        mode=NumberSelectorMode.BOX,
        unit_of_measurement="h",
    )
)

_CONNECTION_SCHEMA = {
    probatio.Required(CONF_URL): _URL_SELECTOR,
    probatio.Required(CONF_TOKEN): _TOKEN_SELECTOR,
    probatio.Required(CONF_QUEUE): _TEXT_SELECTOR,
}
_NETWORK_SCHEMA = {
    probatio.Required(
        CONF_ALLOW_PRIVATE_NETWORK, default=DEFAULT_ALLOW_PRIVATE_NETWORK
    ): BooleanSelector(),
    probatio.Required(CONF_VERIFY_SSL, default=DEFAULT_VERIFY_SSL): BooleanSelector(),
}
_OPTIONS_SCHEMA = {
    probatio.Required(CONF_CATALOG): _TEXT_SELECTOR,
    probatio.Optional(CONF_HA_URL): _URL_SELECTOR,
    probatio.Optional(CONF_ADDRESS): _TEXT_SELECTOR,
    probatio.Required(
        CONF_SYNC_INTERVAL, default=DEFAULT_SYNC_INTERVAL_HOURS
    ): _SYNC_INTERVAL_SELECTOR,
}

# Only the options flow shows the outbox settings; a new entry gets their defaults.
_OUTBOX_SCHEMA = {
    probatio.Required(CONF_OUTBOX_ENABLED, default=DEFAULT_OUTBOX_ENABLED): BooleanSelector(),
    probatio.Required(CONF_OUTBOX_MAX_PENDING, default=DEFAULT_OUTBOX_MAX_PENDING): NumberSelector(
        NumberSelectorConfig(
            min=MIN_OUTBOX_MAX_PENDING,
            max=MAX_OUTBOX_MAX_PENDING,
            step=1,
            mode=NumberSelectorMode.BOX,
        )
    ),
    probatio.Required(CONF_OUTBOX_MAX_AGE, default=DEFAULT_OUTBOX_MAX_AGE_HOURS): NumberSelector(
        NumberSelectorConfig(
            min=MIN_OUTBOX_MAX_AGE_HOURS,
            max=MAX_OUTBOX_MAX_AGE_HOURS,
            step=1,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement="h",
        )
    ),
}

USER_SCHEMA = probatio.Schema({**_CONNECTION_SCHEMA, **_OPTIONS_SCHEMA, **_NETWORK_SCHEMA})
RECONFIGURE_SCHEMA = probatio.Schema({**_CONNECTION_SCHEMA, **_NETWORK_SCHEMA})
REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_TOKEN): _TOKEN_SELECTOR})
OPTIONS_SCHEMA = probatio.Schema({**_OPTIONS_SCHEMA, **_OUTBOX_SCHEMA})

# Config flow error keys that are not failures of the RT checks.
ERROR_INVALID_HA_URL = "invalid_ha_url"
ERROR_UNKNOWN = "unknown"


class InvalidHomeAssistantURLError(ValueError):
    """The Home Assistant URL is not an absolute http or https URL."""


class RTConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a config entry for one RT server and queue."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: RTConfigEntry) -> RTOptionsFlow:
        """Return the options flow."""
        return RTOptionsFlow()

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the RT server, token, queue, catalog and options, and check them."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}

        if user_input is not None:
            try:
                settings = _settings_from_input(user_input, user_input)
            except RTCheckError as err:
                errors = {"base": err.failure.value}
            except InvalidHomeAssistantURLError:
                errors = {CONF_HA_URL: ERROR_INVALID_HA_URL}
            else:
                await self.async_set_unique_id(config_entry_unique_id(settings.url, settings.queue))
                self._abort_if_unique_id_configured()

                errors, placeholders = await _async_check(settings)
                if not errors:
                    return self.async_create_entry(
                        title=entry_title(settings),
                        data=_entry_data(settings),
                        options=_entry_options(settings),
                    )

        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
            description_placeholders=_placeholders(placeholders),
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:  # noqa: ARG002
        """Start reauthentication after RT rejected the token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new token for the same server and queue, and check it."""
        entry: RTConfigEntry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}

        if user_input is not None:
            # The server and queue come from the entry, so the unique ID cannot change.
            settings = replace(EntrySettings.from_entry(entry), token=user_input[CONF_TOKEN])
            errors, placeholders = await _async_check(settings)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: settings.token}
                )

        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=REAUTH_SCHEMA,
            errors=errors,
            description_placeholders=_placeholders(
                placeholders,
                url=entry.data[CONF_URL],
                queue=entry.data[CONF_QUEUE],
            ),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server URL, token, queue and network choices, and check them."""
        entry: RTConfigEntry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}

        if user_input is not None:
            try:
                settings = _settings_from_input(user_input, entry.options)
            except RTCheckError as err:
                errors = {"base": err.failure.value}
            else:
                unique_id = config_entry_unique_id(settings.url, settings.queue)
                if unique_id != entry.unique_id:
                    await self.async_set_unique_id(unique_id, raise_on_progress=False)
                    self._abort_if_unique_id_configured()

                errors, placeholders = await _async_check(settings)
                if not errors:
                    return self.async_update_reload_and_abort(
                        entry,
                        unique_id=unique_id,
                        title=_updated_title(entry, settings),
                        data_updates=_entry_data(settings),
                    )

        suggested = user_input or {
            key: value for key, value in entry.data.items() if key != CONF_TOKEN
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(RECONFIGURE_SCHEMA, suggested),
            errors=errors,
            description_placeholders=_placeholders(placeholders),
        )


class RTOptionsFlow(OptionsFlowWithReload):
    """Change the catalog, Home Assistant URL, address, sync interval and outbox of an entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the options and check the catalog before saving them."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}

        if user_input is not None:
            try:
                settings = _settings_from_input(entry.data, user_input)
            except RTCheckError as err:
                errors = {"base": err.failure.value}
            except InvalidHomeAssistantURLError:
                errors = {CONF_HA_URL: ERROR_INVALID_HA_URL}
            else:
                errors, placeholders = await _async_check(settings)
                if not errors:
                    return self.async_create_entry(data=_entry_options(settings))

        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input or entry.options
            ),
            errors=errors,
            description_placeholders=_placeholders(placeholders),
        )


def entry_title(settings: EntrySettings) -> str:
    """Return the default title of a config entry, for example "Facilities (rt.example.com)"."""
    return f"{settings.queue} ({URL(settings.url).host})"


def _updated_title(entry: RTConfigEntry, settings: EntrySettings) -> str | UndefinedType:
    """Return the new default title, or UNDEFINED when the user renamed the entry."""
    if entry.title != entry_title(EntrySettings.from_entry(entry)):
        return UNDEFINED
    return entry_title(settings)


def _settings_from_input(
    connection: Mapping[str, Any], options: Mapping[str, Any]
) -> EntrySettings:
    """Read and normalize the settings of a form, with the URL checked for syntax and HTTPS.

    Raises:
        RTCheckError: INVALID_URL.
        InvalidHomeAssistantURLError: the Home Assistant URL is not an http(s) URL.

    """
    allow_private_network = bool(connection[CONF_ALLOW_PRIVATE_NETWORK])
    return EntrySettings(
        url=normalize_rt_url(connection[CONF_URL], allow_private_network=allow_private_network),
        token=connection[CONF_TOKEN].strip(),
        queue=connection[CONF_QUEUE].strip(),
        catalog=options.get(CONF_CATALOG, "").strip(),
        ha_url=_normalize_ha_url(options.get(CONF_HA_URL, "")),
        address=options.get(CONF_ADDRESS, "").strip(),
        sync_interval_hours=int(options.get(CONF_SYNC_INTERVAL, DEFAULT_SYNC_INTERVAL_HOURS)),
        allow_private_network=allow_private_network,
        verify_ssl=bool(connection[CONF_VERIFY_SSL]),
        outbox_enabled=bool(options.get(CONF_OUTBOX_ENABLED, DEFAULT_OUTBOX_ENABLED)),
        outbox_max_pending=int(options.get(CONF_OUTBOX_MAX_PENDING, DEFAULT_OUTBOX_MAX_PENDING)),
        outbox_max_age_hours=int(options.get(CONF_OUTBOX_MAX_AGE, DEFAULT_OUTBOX_MAX_AGE_HOURS)),
    )


def _normalize_ha_url(value: str) -> str:
    """Return the Home Assistant URL without a trailing slash, or "" when empty."""
    value = value.strip()
    if not value:
        return ""

    try:
        url = URL(value)
    except ValueError as err:
        raise InvalidHomeAssistantURLError(value) from err

    if url.scheme not in {"http", "https"} or not url.host:
        raise InvalidHomeAssistantURLError(value)
    return str(url).rstrip("/")


def _entry_data(settings: EntrySettings) -> dict[str, Any]:
    """Return the connection settings, which the config entry stores in its data."""
    return {
        CONF_URL: settings.url,
        CONF_TOKEN: settings.token,
        CONF_QUEUE: settings.queue,
        CONF_ALLOW_PRIVATE_NETWORK: settings.allow_private_network,
        CONF_VERIFY_SSL: settings.verify_ssl,
    }


def _entry_options(settings: EntrySettings) -> dict[str, Any]:
    """Return the settings the options flow edits, which the config entry stores in options."""
    return {
        CONF_CATALOG: settings.catalog,
        CONF_HA_URL: settings.ha_url,
        CONF_ADDRESS: settings.address,
        CONF_SYNC_INTERVAL: settings.sync_interval_hours,
        CONF_OUTBOX_ENABLED: settings.outbox_enabled,
        CONF_OUTBOX_MAX_PENDING: settings.outbox_max_pending,
        CONF_OUTBOX_MAX_AGE: settings.outbox_max_age_hours,
    }


def _placeholders(found: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Return the description placeholders of a form.

    missing_custom_fields is always set because the error text of every step uses it.
    """
    return {"missing_custom_fields": "", **extra, **found}


async def _async_check(settings: EntrySettings) -> tuple[dict[str, str], dict[str, str]]:
    """Run the RT checks and return the form errors and their placeholders."""
    try:
        await async_validate_settings(settings)
    except RTCheckError as err:
        LOGGER.debug("Check of RT server %s failed: %s", settings.url, err)
        placeholders = {"missing_custom_fields": err.missing.describe()} if err.missing else {}
        return {"base": err.failure.value}, placeholders
    except Exception:  # noqa: BLE001 - the form shows "unknown" instead of failing the flow
        LOGGER.exception("Unexpected error while checking RT server %s", settings.url)
        return {"base": ERROR_UNKNOWN}, {}

    return {}, {}
