"""Sensor of the number of ticket requests waiting in a config entry's outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.components.sensor import SensorEntity, SensorStateClass

from .entity import OutboxEntity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .data import RTConfigEntry

# The entities only read the outbox, which pushes its changes.
PARALLEL_UPDATES: Final = 0


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001
    entry: RTConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the pending requests sensor of the entry."""
    async_add_entities([PendingRequestsSensor(entry)])


class PendingRequestsSensor(OutboxEntity, SensorEntity):
    """The number of create_ticket and resolve_ticket calls waiting for RT."""

    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, entry: RTConfigEntry) -> None:
        """Create the sensor for the entry's outbox."""
        super().__init__(entry, "pending_requests")

    @property
    def native_value(self) -> int:
        """The number of waiting requests."""
        return self._outbox.pending
