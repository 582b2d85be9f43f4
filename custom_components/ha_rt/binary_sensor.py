"""Binary sensor that shows whether a config entry's RT server responds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.components.binary_sensor import BinarySensorEntity

# Home Assistant 2026.10 re-exports the class without __all__, which mypy --strict rejects.
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass

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
    """Add the RT connectivity sensor of the entry."""
    async_add_entities([RTConnectivitySensor(entry)])


class RTConnectivitySensor(OutboxEntity, BinarySensorEntity):
    """On while RT responds, and off from a request that failed after its retries until RT responds.

    It shows the outcome of the last request the integration sent, so it changes with
    ticket traffic, and with the outbox's probes while RT is unreachable.
    """

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY

    def __init__(self, entry: RTConfigEntry) -> None:
        """Create the sensor for the entry's outbox."""
        super().__init__(entry, "rt_connectivity")

    @property
    def is_on(self) -> bool:
        """Whether RT responded to the last request."""
        return self._outbox.connected
