"""Repair issues of the integration, raised and cleared by the checks in runtime.py.

The issues have no fix flow: the fix is made in RT, and the next check (at setup and
every hour while the entry is loaded) clears the issue by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import CF_DEVICE_ID, DOMAIN

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .validation import MissingCustomFields

ISSUE_MISSING_CUSTOM_FIELDS: Final = "missing_custom_fields"


def missing_custom_fields_issue_id(entry_id: str) -> str:
    """Return the ID of the missing custom fields issue of a config entry."""
    return f"{ISSUE_MISSING_CUSTOM_FIELDS}_{entry_id}"


@callback
def async_update_missing_custom_fields_issue(
    hass: HomeAssistant, entry: ConfigEntry, missing: MissingCustomFields
) -> None:
    """Create, replace or delete the entry's issue so that it matches what is missing."""
    issue_id = missing_custom_fields_issue_id(entry.entry_id)

    if not missing:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return

    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        # Without DeviceId no ticket or asset can be matched to its device, so the
        # entry stops loading. The other fields only leave values out.
        severity=(
            ir.IssueSeverity.ERROR if device_id_missing(missing) else ir.IssueSeverity.WARNING
        ),
        translation_key=ISSUE_MISSING_CUSTOM_FIELDS,
        translation_placeholders={
            "title": entry.title,
            "missing_custom_fields": missing.describe(),
        },
    )


def device_id_missing(missing: MissingCustomFields) -> bool:
    """Return whether the queue or the catalog lacks the DeviceId custom field."""
    return CF_DEVICE_ID in missing.ticket_fields or CF_DEVICE_ID in missing.asset_fields


@callback
def async_delete_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every issue of a config entry, for when the entry is removed."""
    ir.async_delete_issue(hass, DOMAIN, missing_custom_fields_issue_id(entry_id))
