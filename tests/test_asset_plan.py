"""Rules of the asset sync plan: lifecycle paths, matching, duplicates, retirement."""

from __future__ import annotations

import itertools

import pytest

from custom_components.ha_rt.asset_plan import (
    ACTIVE_STATUS,
    ASSET_TRANSITIONS,
    RETIRED_STATUS,
    AssetRecord,
    AssetWrite,
    WriteKind,
    desired_custom_fields,
    plan_sync,
    status_path,
)
from custom_components.ha_rt.const import (
    ASSET_CUSTOM_FIELDS,
    CF_ADDRESS,
    CF_AREA,
    CF_DEVICE_ID,
    CF_MODEL,
    OPTIONAL_ASSET_CUSTOM_FIELDS,
)
from custom_components.ha_rt.devices import DeviceSnapshot

ALL_FIELDS = frozenset(ASSET_CUSTOM_FIELDS + OPTIONAL_ASSET_CUSTOM_FIELDS)


def device(
    device_id: str = "d1", *, name: str = "Sensor", is_service: bool = False, is_child=False
):
    return DeviceSnapshot(
        device_id=device_id,
        name=name,
        area="Cellar",
        manufacturer="Acme",
        model="M1",
        serial_number="",
        firmware_version="",
        hardware_version="",
        configuration_url="",
        mac_address="",
        page_url="",
        is_service=is_service,
        is_child=is_child,
    )


def asset_of(snapshot: DeviceSnapshot, asset_id: int, status: str = ACTIVE_STATUS, **changes):
    fields = desired_custom_fields(snapshot, ALL_FIELDS, "Main St 1")
    fields.update(changes.pop("custom_fields", {}))
    return AssetRecord(
        id=asset_id,
        name=changes.pop("name", snapshot.name),
        status=status,
        last_updated="2026-12-04T10:00:00Z",
        custom_fields=fields,
    )


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("in-use", "recycled", ("recycled",)),
        ("allocated", "recycled", ("recycled",)),
        ("new", "recycled", ("allocated", "recycled")),
        ("recycled", "in-use", ("allocated", "in-use")),
        ("stolen", "in-use", ("allocated", "in-use")),
        ("deleted", "in-use", ("allocated", "in-use")),
        ("in-use", "in-use", ()),
        ("custom-status", "recycled", ("recycled",)),
    ],
)
def test_status_path_follows_lifecycle(current, target, expected):
    path = status_path(current, target)

    assert path == expected
    steps = [current, *path]
    if current in ASSET_TRANSITIONS:
        for before, after in itertools.pairwise(steps):
            assert after in ASSET_TRANSITIONS[before]


def test_plan_creates_missing_asset():
    sensor = device()

    plan = plan_sync({"d1": sensor}, [], ALL_FIELDS, "Main St 1")

    assert plan.writes == [
        AssetWrite(
            WriteKind.CREATE,
            "d1",
            name="Sensor",
            custom_fields=desired_custom_fields(sensor, ALL_FIELDS, "Main St 1"),
            statuses=(ACTIVE_STATUS,),
        )
    ]


def test_plan_leaves_matching_asset():
    sensor = device()

    plan = plan_sync({"d1": sensor}, [asset_of(sensor, 5)], ALL_FIELDS, "Main St 1")

    assert plan.writes == []
    assert plan.unchanged == 1


def test_plan_updates_only_changed_values():
    sensor = device(name="Renamed")
    stale = asset_of(device(), 5, custom_fields={CF_MODEL: "old"})

    plan = plan_sync({"d1": sensor}, [stale], ALL_FIELDS, "Main St 1")

    assert plan.writes == [
        AssetWrite(
            WriteKind.UPDATE, "d1", asset_id=5, name="Renamed", custom_fields={CF_MODEL: "M1"}
        )
    ]


def test_plan_clears_value_the_device_lost():
    sensor = device()
    stale = asset_of(sensor, 5, custom_fields={"Serial Number": "SN-1"})

    plan = plan_sync({"d1": sensor}, [stale], ALL_FIELDS, "Main St 1")

    assert plan.writes[0].custom_fields == {"Serial Number": ""}


def test_plan_writes_only_catalog_fields():
    sensor = device()
    catalog_fields = frozenset(ASSET_CUSTOM_FIELDS)

    plan = plan_sync({"d1": sensor}, [], catalog_fields, "Main St 1")

    assert CF_AREA not in plan.writes[0].custom_fields
    assert CF_ADDRESS not in plan.writes[0].custom_fields
    assert plan.writes[0].custom_fields[CF_DEVICE_ID] == "d1"


def test_plan_ignores_fields_outside_catalog():
    sensor = device()
    asset = asset_of(sensor, 5, custom_fields={CF_AREA: "Somewhere else"})

    plan = plan_sync({"d1": sensor}, [asset], frozenset(ASSET_CUSTOM_FIELDS), "Main St 1")

    assert plan.unchanged == 1


def test_plan_reactivates_retired_asset():
    sensor = device()

    plan = plan_sync({"d1": sensor}, [asset_of(sensor, 5, "recycled")], ALL_FIELDS, "Main St 1")

    assert plan.writes == [
        AssetWrite(WriteKind.UPDATE, "d1", asset_id=5, statuses=("allocated", ACTIVE_STATUS))
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("in-use", ("recycled",)),
        ("allocated", ("recycled",)),
        ("new", ("allocated", "recycled")),
        ("recycled", None),
        ("stolen", None),
    ],
)
def test_plan_retires_asset_of_missing_device(status, expected):
    asset = asset_of(device(), 5, status)

    plan = plan_sync({}, [asset], ALL_FIELDS, "Main St 1")

    if expected is None:
        assert plan.writes == []
    else:
        assert plan.writes == [AssetWrite(WriteKind.RETIRE, "d1", asset_id=5, statuses=expected)]
    assert plan.skipped == 0


def test_plan_retires_asset_of_service_device():
    service = device(is_service=True)

    plan = plan_sync({"d1": service}, [asset_of(service, 5)], ALL_FIELDS, "Main St 1")

    assert plan.writes == [
        AssetWrite(WriteKind.RETIRE, "d1", asset_id=5, statuses=(RETIRED_STATUS,))
    ]
    assert plan.skipped == 1


def test_plan_retires_asset_of_child_device():
    child = device(is_child=True)

    plan = plan_sync({"d1": child}, [asset_of(child, 5)], ALL_FIELDS, "Main St 1")

    assert plan.writes == [
        AssetWrite(WriteKind.RETIRE, "d1", asset_id=5, statuses=(RETIRED_STATUS,))
    ]
    assert plan.skipped == 1


def test_plan_skips_service_device_without_asset():
    plan = plan_sync({"d1": device(is_service=True)}, [], ALL_FIELDS, "Main St 1")

    assert plan.writes == []
    assert plan.skipped == 1


@pytest.mark.parametrize(
    ("statuses", "kept", "retired"),
    [
        # Same status: the lowest id wins.
        ({7: "in-use", 3: "in-use", 5: "allocated"}, 3, [5, 7]),
        # An active asset wins over a lower, inactive one; inactive ones stay as they are.
        ({2: "recycled", 9: "in-use", 4: "stolen"}, 9, []),
        # Only inactive ones: the lowest id comes back.
        ({8: "recycled", 6: "stolen"}, 6, []),
    ],
)
def test_plan_resolves_duplicates_deterministically(statuses, kept, retired):
    sensor = device()
    assets = [asset_of(sensor, asset_id, status) for asset_id, status in statuses.items()]

    plan = plan_sync({"d1": sensor}, assets, ALL_FIELDS, "Main St 1")

    duplicates = [w.asset_id for w in plan.writes if w.kind is WriteKind.RETIRE_DUPLICATE]
    others = [w.asset_id for w in plan.writes if w.kind is not WriteKind.RETIRE_DUPLICATE]
    assert duplicates == retired
    assert others in ([], [kept])
    assert kept not in duplicates
    assert (
        plan.writes == plan_sync({"d1": sensor}, reversed(assets), ALL_FIELDS, "Main St 1").writes
    )


def test_plan_leaves_assets_without_device_id():
    by_hand = AssetRecord(
        id=1, name="Printer", status="new", last_updated=None, custom_fields={CF_MODEL: "X"}
    )

    plan = plan_sync({}, [by_hand], ALL_FIELDS, "Main St 1")

    assert plan.writes == []
    assert plan.unchanged == 0
