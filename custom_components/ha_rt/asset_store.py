"""The asset sync's snapshot of the catalog, kept in Home Assistant's storage.

The snapshot contains every asset of the catalog as the last sync read it: id, name,
status, LastUpdated and custom field values. RT 5.0.3 moves an asset's LastUpdated on
every change, so a sync lists the catalog without custom fields (cheap) and fetches them
again only for assets whose LastUpdated differs from the snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from homeassistant.helpers.storage import Store

from .asset_plan import AssetRecord
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

STORAGE_VERSION = 1

# Writes are batched: the snapshot only saves requests, so losing the last few seconds of
# it in a crash costs one sync that lists the catalog with custom fields.
SAVE_DELAY_SECONDS = 10.0


class _StoredAsset(TypedDict):
    id: int
    name: str
    status: str
    last_updated: str | None
    custom_fields: dict[str, str]


class _StoredSnapshot(TypedDict):
    url: str
    catalog: str
    assets: list[_StoredAsset]


class AssetSnapshotStore:
    """Load and save one config entry's snapshot of its RT catalog.

    A snapshot belongs to one RT URL and catalog name. After either changes, `async_load`
    returns None, so the next sync reads the new catalog in full.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str, url: str, catalog: str) -> None:
        """Prepare the store; nothing is read until `async_load`."""
        self._store: Store[_StoredSnapshot] = Store(hass, STORAGE_VERSION, _storage_key(entry_id))
        self._url = url
        self._catalog = catalog
        self._records: Mapping[int, AssetRecord] = {}
        self._unsaved = False

    async def async_load(self) -> dict[int, AssetRecord] | None:
        """Return the saved records by asset id, or None when there is no usable snapshot."""
        stored = await self._store.async_load()
        if stored is None:
            return None

        if stored.get("url") != self._url or stored.get("catalog") != self._catalog:
            LOGGER.debug(
                "Ignoring the asset snapshot of %s catalog %r: the entry now uses %s catalog %r",
                stored.get("url"),
                stored.get("catalog"),
                self._url,
                self._catalog,
            )
            return None

        try:
            return {item["id"]: _record_from_storage(item) for item in stored["assets"]}
        except (KeyError, TypeError, ValueError) as err:
            LOGGER.warning(
                "Ignoring the damaged asset snapshot %s (%s); the next sync reads the "
                "catalog in full",
                self._store.path,
                err,
            )
            return None

    def async_schedule_save(self, records: Mapping[int, AssetRecord]) -> None:
        """Save the records after a short delay; a later call replaces an earlier one."""
        self._records = records
        self._unsaved = True
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY_SECONDS)

    async def async_save_now(self) -> None:
        """Write the records of a pending delayed save at once, as on unload."""
        if self._unsaved:
            await self._store.async_save(self._data_to_save())

    def _data_to_save(self) -> _StoredSnapshot:
        self._unsaved = False
        return {
            "url": self._url,
            "catalog": self._catalog,
            "assets": [_record_to_storage(record) for record in self._records.values()],
        }


async def async_remove_snapshot(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a config entry's asset snapshot, as when the entry is removed."""
    await Store[_StoredSnapshot](hass, STORAGE_VERSION, _storage_key(entry_id)).async_remove()


def _storage_key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.assets"


def _record_to_storage(record: AssetRecord) -> _StoredAsset:
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "last_updated": record.last_updated,
        "custom_fields": dict(record.custom_fields),
    }


def _record_from_storage(item: _StoredAsset) -> AssetRecord:
    # The file may have been edited by hand, so the shape is checked, not trusted.
    custom_fields: object = item["custom_fields"]
    if not isinstance(custom_fields, dict):
        msg = f"custom fields of asset {item['id']} are not an object"
        raise TypeError(msg)

    return AssetRecord(
        id=int(item["id"]),
        name=str(item["name"]),
        status=str(item["status"]),
        last_updated=item["last_updated"],
        custom_fields={str(name): str(value) for name, value in custom_fields.items()},
    )
