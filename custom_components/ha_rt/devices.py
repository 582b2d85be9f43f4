"""Read the device and area registries into plain snapshots.

This is the only module that reads Home Assistant's registries, so tickets and assets
work from the same view of a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.network import NoURLAvailableError, get_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """A device registry entry reduced to the values tickets and assets use.

    Text fields are "" when the registry has no value, so they can go into RT's custom
    fields as they are.
    """

    device_id: str
    name: str
    area: str
    manufacturer: str
    model: str
    serial_number: str
    firmware_version: str
    hardware_version: str
    configuration_url: str
    mac_address: str
    page_url: str
    is_service: bool
    is_child: bool = False

    @property
    def is_physical(self) -> bool:
        """Whether the device gets an RT asset: not a service and not part of another device."""
        return not self.is_service and not self.is_child


def resolve_ha_url(hass: HomeAssistant, configured: str | None) -> str:
    """Return the Home Assistant base URL for device links, or "" when none is known.

    The configured URL wins; otherwise the instance's external URL, then its internal one.
    """
    if configured:
        return configured.rstrip("/")

    try:
        return get_url(hass, allow_ip=True, prefer_external=True).rstrip("/")
    except NoURLAvailableError:
        return ""


def device_page_url(ha_url: str, device_id: str) -> str:
    """Return the link to the device's page in Home Assistant, or "" without a base URL."""
    if not ha_url:
        return ""
    return f"{ha_url}/config/devices/device/{device_id}"


def _mac_address(device: dr.DeviceEntry) -> str:
    """Return the device's first MAC address from its connections, sorted for stability."""
    macs = sorted(value for kind, value in device.connections if kind == dr.CONNECTION_NETWORK_MAC)
    return macs[0] if macs else ""


def snapshot_device(device: dr.DeviceEntry, areas: ar.AreaRegistry, ha_url: str) -> DeviceSnapshot:
    """Build the snapshot of one device registry entry."""
    area = areas.async_get_area(device.area_id) if device.area_id else None

    return DeviceSnapshot(
        device_id=device.id,
        name=device.name_by_user or device.name or "",
        area=area.name if area else "",
        manufacturer=device.manufacturer or "",
        model=device.model or "",
        serial_number=device.serial_number or "",
        firmware_version=device.sw_version or "",
        hardware_version=device.hw_version or "",
        configuration_url=device.configuration_url or "",
        mac_address=_mac_address(device),
        page_url=device_page_url(ha_url, device.id),
        is_service=device.entry_type is dr.DeviceEntryType.SERVICE,
    )


def snapshot_child_device(
    child: dr.ChildDeviceEntry, parent: dr.DeviceEntry | None, areas: ar.AreaRegistry, ha_url: str
) -> DeviceSnapshot:
    """Build the snapshot of a child device entry (Home Assistant 2026.10+).

    A child entry has only a name and an area of its own; the hardware fields come from
    its parent, which is the physical device.
    """
    base = snapshot_device(parent, areas, ha_url) if parent else None
    area_id = child.area_id or (parent.area_id if parent else None)
    area = areas.async_get_area(area_id) if area_id else None

    return DeviceSnapshot(
        device_id=child.id,
        name=child.name_by_user or child.name or (base.name if base else ""),
        area=area.name if area else "",
        manufacturer=base.manufacturer if base else "",
        model=base.model if base else "",
        serial_number=base.serial_number if base else "",
        firmware_version=base.firmware_version if base else "",
        hardware_version=base.hardware_version if base else "",
        configuration_url=base.configuration_url if base else "",
        mac_address=base.mac_address if base else "",
        page_url=device_page_url(ha_url, child.id),
        is_service=base.is_service if base else False,
        is_child=True,
    )


def get_device(hass: HomeAssistant, device_id: str, ha_url: str) -> DeviceSnapshot | None:
    """Return the snapshot of one device, or None when the registry has no such device."""
    registry = dr.async_get(hass)
    device = registry.async_get(device_id)
    if device is None:
        return None

    areas = ar.async_get(hass)
    if isinstance(device, dr.ChildDeviceEntry):
        parent = registry.async_get(device.parent_device_id, include_child_devices=False)
        return snapshot_child_device(device, parent, areas, ha_url)
    return snapshot_device(device, areas, ha_url)


def iter_devices(hass: HomeAssistant, ha_url: str) -> Iterator[DeviceSnapshot]:
    """Yield a snapshot of every main device in the registry, service devices included.

    Child devices are left out: they are parts of their parent, which gets the asset.
    """
    areas = ar.async_get(hass)
    for device in dr.async_get(hass).devices:
        yield snapshot_device(device, areas, ha_url)
