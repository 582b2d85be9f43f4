"""TicketSQL and AssetSQL building in custom_components.ha_rt.rt.sql."""

from __future__ import annotations

import pytest

from custom_components.ha_rt.rt.sql import all_of, any_of, custom_field_equals, equals, quote


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("ends with \\", '"ends with \\\\"'),
        ('\\"', '"\\\\\\""'),
        ("' OR 1=1 --", '"\' OR 1=1 --"'),
        ("line\nbreak\r\ttab", '"line\nbreak\r\ttab"'),
        ("ünï ✓", '"ünï ✓"'),
    ],
)
def test_quote_escapes_value(value, expected):
    assert quote(value) == expected


def test_quote_rejects_nul():
    with pytest.raises(ValueError, match="NUL"):
        quote("a\x00b")


def test_equals_builds_column_condition():
    assert equals("Queue", 'Facilities "B"') == 'Queue = "Facilities \\"B\\""'


@pytest.mark.parametrize("column", ["", "CF.{DeviceId}", "Queue = 1 OR id", "1id", "Status'"])
def test_equals_rejects_invalid_column(column):
    with pytest.raises(ValueError, match="Invalid TicketSQL column name"):
        equals(column, "x")


def test_custom_field_equals_keeps_spaces_in_name():
    assert custom_field_equals("Device Information", "x") == 'CF.{Device Information} = "x"'


@pytest.mark.parametrize("name", ["", "a}b", "a{b", "new\nline", "nul\x00"])
def test_custom_field_equals_rejects_invalid_name(name):
    with pytest.raises(ValueError, match="Invalid custom field name"):
        custom_field_equals(name, "x")


def test_any_of_groups_alternatives():
    assert any_of(['Status = "new"', 'Status = "open"']) == '(Status = "new" OR Status = "open")'


def test_all_of_groups_each_condition():
    query = all_of([equals("Queue", "Q"), any_of([equals("Status", "new")])])

    assert query == '(Queue = "Q") AND ((Status = "new"))'


@pytest.mark.parametrize("join", [any_of, all_of])
def test_join_rejects_no_conditions(join):
    with pytest.raises(ValueError, match="no conditions"):
        join([])
