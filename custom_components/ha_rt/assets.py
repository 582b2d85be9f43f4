"""Keep one RT asset per physical device in step with Home Assistant's device registry.

A full sync lists the catalog with the cheap fields (Name, Status, LastUpdated). It
fetches custom fields only for assets that are new or changed since the snapshot in
Home Assistant's storage, so a sync that finds nothing to do costs the listing's pages
of 100 assets and one more request. Writes go out with bounded concurrency, and every
written asset is read back, so the snapshot contains what RT stored. RT stays the source
of truth: an asset edited in RT gets a new LastUpdated, is read again and is corrected
on the next sync.

Syncs run when Home Assistant has started, on the configured interval, for devices the
registry reports as created, changed or removed (coalesced), and on the sync_assets action.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import batched
from typing import TYPE_CHECKING, Any

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.start import async_at_started

from .asset_plan import (
    AssetRecord,
    AssetWrite,
    SyncPlan,
    WriteKind,
    plan_sync,
)
from .asset_store import AssetSnapshotStore
from .const import (
    ASSET_CUSTOM_FIELDS,
    CF_DEVICE_ID,
    DOMAIN,
    LOGGER,
    OPTIONAL_ASSET_CUSTOM_FIELDS,
)
from .devices import get_device, iter_devices
from .rt import (
    RTAPIError,
    RTAuthenticationError,
    RTClient,
    RTConnectionError,
    RTError,
    RTTimeoutError,
)
from .rt.sql import all_of, any_of, custom_field_equals, equals

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
    from datetime import datetime

    from .data import EntrySettings, RTConfigEntry
    from .devices import DeviceSnapshot

# Registry events for one device usually come in bursts (an integration sets up the
# device, then fills in firmware, area and connections). The queue is synced once the
# events pause for COALESCE_QUIET_SECONDS, and never later than COALESCE_MAX_SECONDS
# after the first queued event.
COALESCE_QUIET_SECONDS = 5.0
COALESCE_MAX_SECONDS = 30.0

# Above this many queued devices, one incremental full sync costs fewer requests than
# searching for each batch of devices.
QUEUED_FULL_SYNC_THRESHOLD = 100

# Assets per search that reads custom fields. RT 5.0.3 spent 18-48 ms per asset on its
# custom fields (measured with rt-server on a 2-CPU machine), so a full page of 100 could
# take longer than the client's request timeout (15 s in validation.py) on a busy server.
# The cheap listing without custom fields still uses full pages.
FETCH_BATCH = 20

# Devices per AssetSQL search when syncing queued devices.
DEVICE_SEARCH_BATCH = FETCH_BATCH

# Writes in flight at once, few enough to leave RT's workers free for other clients.
# NOTE: not tuned against a multi-worker RT; the test server handles one request at a
# time, where more writes in flight only queue inside RT.
WRITE_CONCURRENCY = 4

# RT 5.0.3 stores LastUpdated in whole seconds. A read in the same second as the write it
# follows would let a later edit in that second keep the same LastUpdated, so the read of
# written assets waits until this long after the last write.
LAST_UPDATED_RESOLUTION_SECONDS = 1.0

# Device registry attributes that feed an asset (the keys of an "update" event's
# "changes"). Other changes, such as config entries or disabled_by, need no sync.
# NOTE: renaming an area changes no device, so the new name reaches the assets of the
# area's devices with the next full sync only.
SYNCED_DEVICE_ATTRIBUTES = frozenset(
    {
        "area_id",
        "configuration_url",
        "connections",
        "entry_type",
        "hw_version",
        "manufacturer",
        "model",
        "name",
        "name_by_user",
        "serial_number",
        "sw_version",
    }
)

# The fields planned while the catalog's custom fields are unknown. The first create then
# learns them, and the other writes drop what the catalog lacks (see _async_create_probe).
ALL_ASSET_CUSTOM_FIELDS = frozenset(ASSET_CUSTOM_FIELDS + OPTIONAL_ASSET_CUSTOM_FIELDS)


@dataclass(slots=True)
class SyncReport:
    """Counts of one sync's outcomes; `synced` is the number of devices now in step."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    retired: int = 0
    duplicates: int = 0
    failed: int = 0

    @property
    def synced(self) -> int:
        """Devices whose asset was created, updated or already in step."""
        return self.created + self.updated + self.unchanged

    def as_response(self) -> dict[str, Any]:
        """Return the sync_assets action's response."""
        return {
            "synced": self.synced,
            "failed": self.failed,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "retired": self.retired,
            "duplicates": self.duplicates,
        }


class _WriteBatch:
    """Shared state of the writes of one sync: concurrency slots and the error that ends it."""

    def __init__(self) -> None:
        self.slots = asyncio.Semaphore(WRITE_CONCURRENCY)
        self.stop_error: RTAuthenticationError | RTConnectionError | None = None
        self.last_write_done = 0.0


def _only_fields(write: AssetWrite, fields: frozenset[str]) -> AssetWrite:
    """Return the write without values for custom fields the catalog does not have."""
    kept = {name: value for name, value in write.custom_fields.items() if name in fields}
    return replace(write, custom_fields=kept)


def _kept_asset(records: Iterable[AssetRecord]) -> AssetRecord | None:
    """Return the asset a device keeps: the lowest id not inactive, else the lowest id."""
    return min(records, key=lambda record: (record.is_inactive, record.id), default=None)


class AssetSync:
    """The asset sync of one config entry: schedule, registry listener and snapshot."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: RTConfigEntry,
        client: RTClient,
        settings: EntrySettings,
    ) -> None:
        """Prepare the sync; nothing runs until `async_start`."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._settings = settings
        self._store = AssetSnapshotStore(hass, entry.entry_id, settings.url, settings.catalog)

        # Records of every asset in the catalog by id, as last read; None when there is
        # no snapshot and the catalog was not read yet.
        self._records: dict[int, AssetRecord] | None = None
        self._snapshot_loaded = False
        self._asset_by_device: dict[str, int] = {}
        self._catalog_fields: frozenset[str] | None = None
        self._warned_missing_fields: frozenset[str] = frozenset()

        self._sync_lock = asyncio.Lock()
        self._full_sync_running = False
        self._failing = False

        self._queued_devices: set[str] = set()
        self._queue_started: float | None = None
        self._cancel_queue_timer: Callable[[], None] | None = None
        self._unsubscribers: list[Callable[[], None]] = []

    async def async_start(self) -> None:
        """Load the snapshot and schedule the syncs; the first full sync runs in the background.

        The full sync and the registry listener start once Home Assistant has started,
        so start-up never waits for RT.
        """
        await self._async_load_snapshot()

        self._unsubscribers.append(
            async_track_time_interval(
                self._hass,
                self._async_interval_elapsed,
                timedelta(hours=self._settings.sync_interval_hours),
                name=f"{DOMAIN} asset sync of {self._entry.title}",
                cancel_on_shutdown=True,
            )
        )
        self._unsubscribers.append(async_at_started(self._hass, self._async_hass_started))

    async def async_stop(self) -> None:
        """Stop listening and scheduling and save the snapshot.

        A sync still running is a background task of the config entry, which Home
        Assistant cancels on unload; the next sync reads what it left changed.
        """
        while self._unsubscribers:
            self._unsubscribers.pop()()

        if self._cancel_queue_timer is not None:
            self._cancel_queue_timer()
            self._cancel_queue_timer = None
        self._queued_devices.clear()

        await self._store.async_save_now()

    async def _async_load_snapshot(self) -> None:
        if not self._snapshot_loaded:
            self._set_records(await self._store.async_load())
            self._snapshot_loaded = True

    def asset_id_for(self, device_id: str) -> int | None:
        """Return the id of the device's asset from the last sync, or None when unknown."""
        return self._asset_by_device.get(device_id)

    async def async_find_asset_id(self, device_id: str) -> int | None:
        """Return the id of the device's asset, searching RT when no sync has seen it yet.

        Raises RTError when the search fails.
        """
        asset_id = self.asset_id_for(device_id)
        if asset_id is not None:
            return asset_id

        found = await self._async_search_device_assets([device_id])
        kept = _kept_asset(found.values())
        return kept.id if kept is not None else None

    async def async_sync(self, device_id: str | None = None) -> SyncReport:
        """Sync one device, or every device when `device_id` is None.

        Raises ServiceValidationError for a device that is neither in the registry nor
        the DeviceId of an asset, HomeAssistantError when the catalog lacks the DeviceId
        custom field, and RTError when RT cannot be read.
        """
        async with self._sync_lock:
            await self._async_load_snapshot()
            if device_id is None:
                return await self._async_full_sync()

            found = await self._async_search_device_assets([device_id])
            if not found and get_device(self._hass, device_id, "") is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="device_not_found",
                    translation_placeholders={"device_id": device_id},
                )
            return await self._async_sync_found_assets([device_id], found)

    # Scheduling

    @callback
    def _async_hass_started(self, hass: HomeAssistant) -> None:
        """Listen to the device registry and start the first full sync."""
        self._unsubscribers.append(
            hass.bus.async_listen(
                dr.EVENT_DEVICE_REGISTRY_UPDATED, self._async_device_registry_updated
            )
        )
        self._start_full_sync("full sync after start")

    @callback
    def _async_interval_elapsed(self, _now: datetime) -> None:
        if self._full_sync_running:
            LOGGER.debug("Skipping the scheduled asset sync: a full sync is still running")
            return
        self._start_full_sync("scheduled full sync")

    @callback
    def _start_full_sync(self, what: str) -> None:
        self._entry.async_create_background_task(
            self._hass,
            self._async_run_logged(self._async_locked_full_sync(), what),
            name=f"{DOMAIN} asset {what}",
        )

    async def _async_locked_full_sync(self) -> SyncReport:
        async with self._sync_lock:
            await self._async_load_snapshot()
            return await self._async_full_sync()

    @callback
    def _async_device_registry_updated(
        self, event: Event[dr.EventDeviceRegistryUpdatedData]
    ) -> None:
        """Queue a created, changed or removed device for the next coalesced sync."""
        data = event.data
        if data["action"] == "update" and SYNCED_DEVICE_ATTRIBUTES.isdisjoint(data["changes"]):
            return

        self._queued_devices.add(data["device_id"])

        now = self._hass.loop.time()
        if self._queue_started is None:
            self._queue_started = now
        fire_at = min(now + COALESCE_QUIET_SECONDS, self._queue_started + COALESCE_MAX_SECONDS)

        if self._cancel_queue_timer is not None:
            self._cancel_queue_timer()
        self._cancel_queue_timer = async_call_later(
            self._hass, fire_at - now, self._async_queue_timer_fired
        )

    @callback
    def _async_queue_timer_fired(self, _now: datetime) -> None:
        self._cancel_queue_timer = None
        self._queue_started = None
        device_ids, self._queued_devices = self._queued_devices, set()

        self._entry.async_create_background_task(
            self._hass,
            self._async_run_logged(
                self._async_sync_queued(device_ids), f"sync of {len(device_ids)} changed devices"
            ),
            name=f"{DOMAIN} asset sync of changed devices",
        )

    async def _async_sync_queued(self, device_ids: Collection[str]) -> SyncReport:
        async with self._sync_lock:
            await self._async_load_snapshot()
            if len(device_ids) > QUEUED_FULL_SYNC_THRESHOLD:
                return await self._async_full_sync()

            found = await self._async_search_device_assets(device_ids)
            return await self._async_sync_found_assets(device_ids, found)

    async def _async_run_logged(self, sync: Coroutine[Any, Any, SyncReport], what: str) -> None:
        """Run a background sync and log its outcome; repeated failures are logged once."""
        try:
            report = await sync
        except (RTError, HomeAssistantError) as err:
            if isinstance(err, RTAuthenticationError):
                self._entry.async_start_reauth(self._hass)

            if self._failing:
                LOGGER.debug("Asset %s for %s failed again: %s", what, self._entry.title, err)
            else:
                LOGGER.error("Asset %s for %s failed: %s", what, self._entry.title, err)
            self._failing = True
            return

        if self._failing:
            LOGGER.info("Asset sync for %s works again", self._entry.title)
        self._failing = False
        LOGGER.debug("Asset %s for %s: %s", what, self._entry.title, report)

    # Syncing

    async def _async_full_sync(self) -> SyncReport:
        """Bring every asset of the catalog in step with the device registry."""
        self._full_sync_running = True
        try:
            records, read_now = await self._async_read_catalog()

            fields = await self._async_catalog_fields(
                read_now, sample_asset_id=min(records, default=None)
            )

            devices = {device.device_id: device for device in iter_devices(self._hass, "")}
            return await self._async_apply_plan(devices, records, fields)
        finally:
            self._full_sync_running = False

    async def _async_sync_found_assets(
        self, device_ids: Collection[str], found: Mapping[int, AssetRecord]
    ) -> SyncReport:
        """Bring the assets of some devices in step; `found` contains their assets, read now."""
        fields = await self._async_catalog_fields(found.values(), sample_asset_id=None)

        devices: dict[str, DeviceSnapshot] = {}
        for device_id in device_ids:
            device = get_device(self._hass, device_id, "")
            if device is not None:
                devices[device_id] = device

        records = dict(self._records or {})
        records.update(found)
        return await self._async_apply_plan(devices, records, fields, scope=found)

    async def _async_apply_plan(
        self,
        devices: Mapping[str, DeviceSnapshot],
        records: dict[int, AssetRecord],
        fields: frozenset[str] | None,
        scope: Mapping[int, AssetRecord] | None = None,
    ) -> SyncReport:
        """Plan and write the changes, read the written assets back and save the snapshot.

        The plan covers the assets in `scope` (every record when None). `fields` is None
        while the catalog's custom fields are unknown, which happens only for a catalog
        without assets: the first asset is then created alone to learn them.
        """
        planned = scope if scope is not None else records
        plan = plan_sync(
            devices, planned.values(), fields or ALL_ASSET_CUSTOM_FIELDS, self._settings.address
        )
        report = SyncReport(
            unchanged=plan.unchanged,
            skipped=plan.skipped,
            duplicates=sum(write.kind is WriteKind.RETIRE_DUPLICATE for write in plan.writes),
        )
        self._log_duplicates(plan, planned)

        batch = _WriteBatch()
        writes = list(plan.writes)
        written: dict[int, AssetWrite] = {}
        failed: set[int] = set()

        try:
            if fields is None and writes:
                fields = await self._async_create_probe(writes.pop(0), batch, report, written)
                writes = [_only_fields(write, fields) for write in writes]

            await self._async_run_writes(writes, batch, report, written, failed)

            await self._async_read_back(records, written, failed, batch)
        finally:
            self._set_records(records)
            self._store.async_schedule_save(records)

        if batch.stop_error is not None:
            raise batch.stop_error
        return report

    async def _async_run_writes(
        self,
        writes: list[AssetWrite],
        batch: _WriteBatch,
        report: SyncReport,
        written: dict[int, AssetWrite],
        failed: set[int],
    ) -> None:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._async_write(write, batch)) for write in writes]

        for write, task in zip(writes, tasks, strict=True):
            asset_id = task.result()
            if asset_id is None:
                report.failed += 1
                if write.asset_id is not None:
                    failed.add(write.asset_id)
                continue

            written[asset_id] = write
            match write.kind:
                case WriteKind.CREATE:
                    report.created += 1
                case WriteKind.UPDATE:
                    report.updated += 1
                case WriteKind.RETIRE | WriteKind.RETIRE_DUPLICATE:
                    report.retired += 1

    async def _async_write(self, write: AssetWrite, batch: _WriteBatch) -> int | None:
        """Make one write; return the asset id, or None when it failed (logged here).

        After RT rejects the token or stops responding, the remaining writes are not
        tried and count as failed, and the sync raises that error. A timeout fails only
        its own write.
        """
        async with batch.slots:
            if batch.stop_error is not None:
                return None

            try:
                asset_id = await self._async_send_write(write)
            except RTTimeoutError as err:
                self._log_failed_write(write, err)
                return None
            except (RTAuthenticationError, RTConnectionError) as err:
                batch.stop_error = err
                return None
            except RTError as err:
                self._log_failed_write(write, err)
                return None
            finally:
                batch.last_write_done = self._hass.loop.time()

            return asset_id

    async def _async_send_write(self, write: AssetWrite) -> int:
        if write.kind is WriteKind.CREATE:
            # RT 5.0.3 keeps a custom field set to "" as an empty value, which REST2
            # lists as [null]; leaving the field out keeps it without a value.
            filled = {name: value for name, value in write.custom_fields.items() if value}
            return await self._client.create_asset(
                self._settings.catalog,
                write.name or "",
                filled,
                status=write.statuses[0] if write.statuses else None,
            )

        asset_id = write.asset_id
        if asset_id is None:
            msg = f"Cannot {write.kind} an asset without its id (device {write.device_id})"
            raise ValueError(msg)

        # RT moves the status by one lifecycle transition per change, so a longer path
        # takes one request per step. The first step goes with the name and custom fields.
        first_status, *later_statuses = write.statuses or (None,)
        await self._client.update_asset(
            asset_id,
            name=write.name,
            status=first_status,
            custom_fields=write.custom_fields or None,
        )
        for status in later_statuses:
            await self._client.update_asset(asset_id, status=status)
        return asset_id

    def _log_failed_write(self, write: AssetWrite, err: RTError) -> None:
        LOGGER.warning(
            "Could not %s the RT asset %s of device %s in catalog %r: %s",
            write.kind.replace("_", " "),
            write.asset_id if write.asset_id is not None else "(new)",
            write.device_id,
            self._settings.catalog,
            err,
        )

    def _log_duplicates(self, plan: SyncPlan, records: Mapping[int, AssetRecord]) -> None:
        duplicates = [write for write in plan.writes if write.kind is WriteKind.RETIRE_DUPLICATE]
        for device_id in sorted({write.device_id for write in duplicates}):
            same_device = [r for r in records.values() if r.device_id == device_id]
            kept = _kept_asset(same_device)
            LOGGER.warning(
                "RT assets %s in catalog %r all have DeviceId %s; keeping asset %s and "
                "retiring the other active ones",
                ", ".join(str(record.id) for record in sorted(same_device, key=lambda r: r.id)),
                self._settings.catalog,
                device_id,
                kept.id if kept is not None else "-",
            )

    # Reading RT

    async def _async_read_catalog(self) -> tuple[dict[int, AssetRecord], list[AssetRecord]]:
        """Return every asset of the catalog and the records read with custom fields now.

        The catalog is listed without custom fields. Custom fields are fetched only for
        assets that are not in the snapshot or whose LastUpdated changed since, which
        is every asset when there is no snapshot.
        """
        known = self._records or {}
        listed = await self._client.list_catalog_assets(
            self._settings.catalog, with_custom_fields=False
        )
        changed = {
            asset.id
            for asset in listed
            if asset.last_updated is None
            or asset.id not in known
            or known[asset.id].last_updated != asset.last_updated
        }
        fetched = await self._async_fetch_assets(changed)

        records: dict[int, AssetRecord] = {}
        for asset in listed:
            if asset.id in fetched:
                records[asset.id] = fetched[asset.id]
            elif asset.id not in changed:
                records[asset.id] = known[asset.id]
        return records, list(fetched.values())

    async def _async_fetch_assets(self, asset_ids: Collection[int]) -> dict[int, AssetRecord]:
        """Read assets of the catalog with custom fields, FETCH_BATCH ids per search."""
        records: dict[int, AssetRecord] = {}
        for chunk in batched(sorted(asset_ids), FETCH_BATCH, strict=False):
            query = all_of(
                [
                    equals("Catalog", self._settings.catalog),
                    any_of(equals("id", str(asset_id)) for asset_id in chunk),
                ]
            )
            for asset in await self._client.search_assets(query, with_custom_fields=True):
                records[asset.id] = AssetRecord.from_asset(asset)
        return records

    async def _async_search_device_assets(
        self, device_ids: Collection[str]
    ) -> dict[int, AssetRecord]:
        """Return the assets of the catalog whose DeviceId is one of `device_ids`.

        RT compares custom fields case-insensitively (RT 5.0.3 with SQLite), so the
        results are filtered for an exact match.
        """
        wanted = set(device_ids)
        records: dict[int, AssetRecord] = {}
        for chunk in batched(sorted(wanted), DEVICE_SEARCH_BATCH, strict=False):
            query = all_of(
                [
                    equals("Catalog", self._settings.catalog),
                    any_of(custom_field_equals(CF_DEVICE_ID, device_id) for device_id in chunk),
                ]
            )
            for asset in await self._client.search_assets(query, with_custom_fields=True):
                record = AssetRecord.from_asset(asset)
                if record.device_id in wanted:
                    records[record.id] = record
        return records

    async def _async_catalog_fields(
        self, read_now: Iterable[AssetRecord], sample_asset_id: int | None
    ) -> frozenset[str] | None:
        """Return the custom fields applied to the catalog, or None while unknown.

        RT lists every custom field applied to an asset's catalog, with or without a
        value, on each asset read with custom fields. So the sources are, in order: the
        assets read in this sync, one asset of the catalog read now, the fields the last
        sync saw (for a device sync), and the client's get_catalog. For a catalog
        without assets, get_catalog returns no fields when the token's rights are
        granted on the catalog only (RT 5.0.3), and the fields stay unknown (None).

        Raises HomeAssistantError when DeviceId is not among the fields.
        """
        read = list(read_now)
        fields: frozenset[str]
        if read:
            fields = frozenset().union(*(record.custom_fields.keys() for record in read))
        elif sample_asset_id is not None:
            sample = await self._client.get_asset(sample_asset_id)
            fields = frozenset(sample.custom_fields or {})
        elif self._catalog_fields is not None:
            return self._catalog_fields
        else:
            fields = (await self._client.get_catalog(self._settings.catalog)).custom_fields
            if not fields:
                return None

        self._check_catalog_fields(fields)
        self._catalog_fields = fields
        return fields

    async def _async_create_probe(
        self,
        write: AssetWrite,
        batch: _WriteBatch,
        report: SyncReport,
        written: dict[int, AssetWrite],
    ) -> frozenset[str]:
        """Create the first asset of a catalog whose custom fields are unknown, and learn them.

        The create carries only DeviceId, because RT 5.0.3 rejects a create that names
        a custom field applied to other catalogs but not this one (HTTP 400) and drops
        names no custom field has. The asset read back lists the catalog's fields, and
        its other values follow in an update. An RT error ends the sync.

        Raises HomeAssistantError when RT rejects the create, which for a create this
        small means that DeviceId is not applied to the catalog or that the catalog's
        lifecycle has no status "in-use".
        """
        try:
            asset_id = await self._client.create_asset(
                self._settings.catalog,
                write.name or "",
                {CF_DEVICE_ID: write.device_id},
                status=write.statuses[0] if write.statuses else None,
            )
        except RTAPIError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="assets_first_asset_failed",
                translation_placeholders={
                    "catalog": self._settings.catalog,
                    "field": CF_DEVICE_ID,
                    "status": write.statuses[0] if write.statuses else "",
                    "error": str(err),
                },
            ) from err
        written[asset_id] = write
        report.created += 1
        batch.last_write_done = self._hass.loop.time()

        created = await self._client.get_asset(asset_id)
        fields = frozenset(created.custom_fields or {})
        self._check_catalog_fields(fields)
        self._catalog_fields = fields

        remaining = {
            name: value
            for name, value in write.custom_fields.items()
            if name in fields and name != CF_DEVICE_ID and value
        }
        if remaining:
            await self._client.update_asset(asset_id, custom_fields=remaining)
            batch.last_write_done = self._hass.loop.time()
        return fields

    def _check_catalog_fields(self, fields: frozenset[str]) -> None:
        if CF_DEVICE_ID not in fields:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="assets_device_id_field_missing",
                translation_placeholders={
                    "catalog": self._settings.catalog,
                    "field": CF_DEVICE_ID,
                },
            )

        missing = frozenset(ASSET_CUSTOM_FIELDS) - fields
        if missing and missing != self._warned_missing_fields:
            LOGGER.warning(
                "Catalog %r has no custom field %s (or the token's RT user may not see it); "
                "assets are synced without it. Apply the freeform custom field to the catalog",
                self._settings.catalog,
                ", ".join(sorted(missing)),
            )
        self._warned_missing_fields = missing

    async def _async_read_back(
        self,
        records: dict[int, AssetRecord],
        written: Mapping[int, AssetWrite],
        failed: Collection[int],
        batch: _WriteBatch,
    ) -> None:
        """Replace the records of written assets with what RT stored.

        Assets whose write failed are dropped from the records, so the next sync reads
        them again. A read-back that fails does the same for every written asset.
        """
        for asset_id in failed:
            records.pop(asset_id, None)

        if not written:
            return

        wait = batch.last_write_done + LAST_UPDATED_RESOLUTION_SECONDS - self._hass.loop.time()
        if wait > 0:
            await asyncio.sleep(wait)

        try:
            stored = await self._async_fetch_assets(written.keys())
        except RTError:
            for asset_id in written:
                records.pop(asset_id, None)
            raise

        for asset_id in written:
            if asset_id in stored:
                records[asset_id] = stored[asset_id]
            else:
                records.pop(asset_id, None)

    def _set_records(self, records: dict[int, AssetRecord] | None) -> None:
        """Keep the records and rebuild the device-to-asset map from them."""
        self._records = records

        by_device: dict[str, list[AssetRecord]] = {}
        for record in (records or {}).values():
            if record.device_id:
                by_device.setdefault(record.device_id, []).append(record)

        self._asset_by_device = {
            device_id: kept.id
            for device_id, same_device in by_device.items()
            if (kept := _kept_asset(same_device)) is not None
        }
