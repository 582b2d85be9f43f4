"""Read the device and area registries into plain snapshots.

This is the only module that reads Home Assistant's registries, so tickets and assets
work from the same view of a device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.network import NoURLAvailableError, get_url


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """What the integration needs to know about one device registry entry.

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


def snapshot_device(
    device: dr.DeviceEntry, areas: ar.AreaRegistry, ha_url: str
) -> DeviceSnapshot:
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


def get_device(hass: HomeAssistant, device_id: str, ha_url: str) -> DeviceSnapshot | None:
    """Return the snapshot of one device, or None when the registry has no such device."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    return snapshot_device(device, ar.async_get(hass), ha_url)


def iter_devices(hass: HomeAssistant, ha_url: str) -> Iterator[DeviceSnapshot]:
    """Yield a snapshot of every device in the registry, service devices included."""
    areas = ar.async_get(hass)
    for device in dr.async_get(hass).devices.values():
        yield snapshot_device(device, areas, ha_url)
