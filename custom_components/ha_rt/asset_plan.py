"""Decide which RT asset writes bring a catalog in step with the device registry.

Everything here is pure: it takes the devices and the assets as last read from RT and
returns the writes to make, so the rules can be read and tested without RT or Home
Assistant running.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Self

from .const import (
    CF_ADDRESS,
    CF_AREA,
    CF_CONFIGURATION_URL,
    CF_DEVICE_ID,
    CF_FIRMWARE_VERSION,
    CF_HARDWARE_VERSION,
    CF_MAC_ADDRESS,
    CF_MANUFACTURER,
    CF_MODEL,
    CF_SERIAL_NUMBER,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .devices import DeviceSnapshot
    from .rt import Asset

# RT 5.0.3's default "assets" lifecycle (etc/RT_Config.pm): the statuses each status may
# change to. RT returns 200 to a PUT that requests any other change and keeps the status.
ASSET_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("allocated", "in-use", "stolen", "deleted"),
    "allocated": ("in-use", "recycled", "stolen", "deleted"),
    "in-use": ("allocated", "recycled", "stolen", "deleted"),
    "recycled": ("allocated",),
    "stolen": ("allocated",),
    "deleted": ("allocated",),
}

# The lifecycle's inactive statuses. RT 5.0.3 leaves "deleted" assets out of every
# search, so a retired asset gets "recycled" and stays findable by its DeviceId.
INACTIVE_STATUSES = frozenset({"recycled", "stolen", "deleted"})
ACTIVE_STATUS = "in-use"
RETIRED_STATUS = "recycled"


def status_path(current: str, target: str) -> tuple[str, ...]:
    """Return the statuses to set, in order, to move an asset from `current` to `target`.

    The path is the shortest one through ASSET_TRANSITIONS, so an asset in "new" is
    retired through "allocated" and a "recycled" one comes back through "allocated".
    A status the default lifecycle does not have (a catalog with its own lifecycle) gets
    `target` directly, and RT decides.
    """
    if current == target:
        return ()
    if current not in ASSET_TRANSITIONS:
        return (target,)

    paths: dict[str, tuple[str, ...]] = {current: ()}
    queue = [current]
    while queue:
        status = queue.pop(0)
        for following in ASSET_TRANSITIONS.get(status, ()):
            if following in paths:
                continue
            paths[following] = (*paths[status], following)
            if following == target:
                return paths[following]
            queue.append(following)

    return (target,)


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An RT asset as last read, with every custom field value RT listed for it."""

    id: int
    name: str
    status: str
    last_updated: str | None
    custom_fields: Mapping[str, str]

    @classmethod
    def from_asset(cls, asset: Asset) -> Self:
        """Build a record from an asset read with its custom fields."""
        return cls(
            id=asset.id,
            name=asset.name,
            status=asset.status,
            last_updated=asset.last_updated,
            custom_fields=dict(asset.custom_fields or {}),
        )

    @property
    def device_id(self) -> str:
        """DeviceId custom field value; "" for an asset made by hand without one."""
        return self.custom_fields.get(CF_DEVICE_ID, "")

    @property
    def is_inactive(self) -> bool:
        """Whether the status is one of the lifecycle's inactive statuses."""
        return self.status in INACTIVE_STATUSES


def desired_custom_fields(
    device: DeviceSnapshot, catalog_fields: frozenset[str], address: str
) -> dict[str, str]:
    """Return the custom field values a device's asset should have.

    Only fields applied to the catalog are included: RT 5.0.3 silently drops values for
    other fields, so asking for them would show a difference on every sync.
    """
    values = {
        CF_DEVICE_ID: device.device_id,
        CF_MANUFACTURER: device.manufacturer,
        CF_MODEL: device.model,
        CF_SERIAL_NUMBER: device.serial_number,
        CF_FIRMWARE_VERSION: device.firmware_version,
        CF_HARDWARE_VERSION: device.hardware_version,
        CF_CONFIGURATION_URL: device.configuration_url,
        CF_MAC_ADDRESS: device.mac_address,
        CF_AREA: device.area,
        CF_ADDRESS: address,
    }
    return {name: value for name, value in values.items() if name in catalog_fields}


class WriteKind(StrEnum):
    """Kind of change an asset write makes."""

    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"
    RETIRE_DUPLICATE = "retire_duplicate"


@dataclass(frozen=True, slots=True)
class AssetWrite:
    """One planned change to RT: create an asset, or update or retire an existing one.

    `name` is None when the name stays. `custom_fields` holds only the values that
    change ("" clears a field). `statuses` are set one after the other.
    """

    kind: WriteKind
    device_id: str
    asset_id: int | None = None
    name: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    statuses: tuple[str, ...] = ()


@dataclass(slots=True)
class SyncPlan:
    """The writes that bring the assets in step, and what needs no write."""

    writes: list[AssetWrite] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0


def plan_sync(
    devices: Mapping[str, DeviceSnapshot],
    assets: Iterable[AssetRecord],
    catalog_fields: frozenset[str],
    address: str,
) -> SyncPlan:
    """Plan the writes for `devices` and for every device named by an asset's DeviceId.

    A physical device in `devices` (not a service and not a child device) gets exactly
    one active asset named after it with its custom fields. When several assets share a
    DeviceId, the one kept is the lowest id among those not inactive, else the lowest id.
    The other active ones are retired. Every active asset of a device missing from
    `devices` or not physical is retired, and a device that is not physical counts as
    skipped. Assets without a DeviceId are left alone.

    NOTE: a catalog shared by two Home Assistant instances does not work, because each
    full sync retires the assets of the other instance's devices as removed devices.
    """
    by_device: defaultdict[str, list[AssetRecord]] = defaultdict(list)
    for asset in assets:
        if asset.device_id:
            by_device[asset.device_id].append(asset)

    plan = SyncPlan()
    for device_id in sorted(devices.keys() | by_device.keys()):
        candidates = sorted(by_device.get(device_id, ()), key=lambda a: (a.is_inactive, a.id))
        device = devices.get(device_id)

        if device is None or not device.is_physical:
            plan.skipped += device is not None
            plan.writes.extend(
                _retire(asset, WriteKind.RETIRE) for asset in candidates if not asset.is_inactive
            )
            continue

        desired = desired_custom_fields(device, catalog_fields, address)
        if not candidates:
            plan.writes.append(
                AssetWrite(
                    WriteKind.CREATE,
                    device_id,
                    name=device.name,
                    custom_fields=desired,
                    statuses=(ACTIVE_STATUS,),
                )
            )
            continue

        kept, *others = candidates
        plan.writes.extend(
            _retire(asset, WriteKind.RETIRE_DUPLICATE) for asset in others if not asset.is_inactive
        )

        update = _update(kept, device.name, desired)
        if update is None:
            plan.unchanged += 1
        else:
            plan.writes.append(update)

    return plan


def _retire(asset: AssetRecord, kind: WriteKind) -> AssetWrite:
    return AssetWrite(
        kind, asset.device_id, asset_id=asset.id, statuses=status_path(asset.status, RETIRED_STATUS)
    )


def _update(asset: AssetRecord, name: str, desired: Mapping[str, str]) -> AssetWrite | None:
    """Return the update that gives the kept asset the device's values, or None."""
    changed_fields = {
        field_name: value
        for field_name, value in desired.items()
        if asset.custom_fields.get(field_name, "") != value
    }
    new_name = name if asset.name != name else None
    statuses = status_path(asset.status, ACTIVE_STATUS) if asset.is_inactive else ()

    if new_name is None and not changed_fields and not statuses:
        return None

    return AssetWrite(
        WriteKind.UPDATE,
        asset.device_id,
        asset_id=asset.id,
        name=new_name,
        custom_fields=changed_fields,
        statuses=statuses,
    )
