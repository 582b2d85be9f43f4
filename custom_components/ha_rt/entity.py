"""Base class of the integration's entities, which show the state of a config entry's outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, override

from homeassistant.const import EntityCategory
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .data import EntrySettings

if TYPE_CHECKING:
    from .data import RTConfigEntry
    from .outbox import Outbox


class OutboxEntity(Entity):
    """An entity of the config entry's service device, updated when its outbox changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: RTConfigEntry, key: str) -> None:
        """Name the entity by its translation key and attach it to the entry's device."""
        self._outbox: Outbox = entry.runtime_data.outbox
        self._attr_translation_key = key
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Best Practical Solutions",
            model="Request Tracker",
            configuration_url=EntrySettings.from_entry(entry).url,
            entry_type=DeviceEntryType.SERVICE,
        )

    @override
    async def async_added_to_hass(self) -> None:
        """Write the state again whenever the outbox changes."""
        self.async_on_remove(self._outbox.async_add_listener(self.async_write_ha_state))
