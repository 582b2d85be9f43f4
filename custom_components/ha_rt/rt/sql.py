"""Build TicketSQL and AssetSQL conditions with every value quoted.

RT parses both languages with the same grammar. Inside a double-quoted literal a
backslash escapes the next character, so quoting doubles backslashes first and then
escapes double quotes. Values are always quoted: RT reads an unquoted word that starts
with a letter as a column name.

Measured on RT 5.0.3 with SQLite: literals containing quotes, backslashes, line breaks,
tabs and other control characters are stored and found exactly, and `=` on a custom
field compares case-insensitively.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

# Column names in TicketSQL and AssetSQL are plain identifiers such as Queue, Status or
# Catalog. Anything else is rejected, because it could carry query syntax.
_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# A custom field name sits between braces in CF.{Name}; RT's parser ends the name at the
# first closing brace.
_FORBIDDEN_IN_CUSTOM_FIELD_NAME = re.compile(r"[{}\x00-\x1f\x7f]")


def quote(value: str) -> str:
    """Return `value` as a double-quoted TicketSQL/AssetSQL string literal.

    Raises ValueError for a NUL character: PostgreSQL, one of RT's database backends,
    cannot store it, so no stored value can contain it.
    """
    if "\x00" in value:
        msg = f"Cannot search RT for {value!r}: the value contains a NUL character; remove it"
        raise ValueError(msg)

    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def equals(column: str, value: str) -> str:
    """Return the condition `column = "value"` for a built-in column such as Queue."""
    if _COLUMN.fullmatch(column) is None:
        msg = (
            f"Invalid TicketSQL column name {column!r}: use a plain column name "
            "such as Queue, Status or Catalog"
        )
        raise ValueError(msg)

    return f"{column} = {quote(value)}"


def custom_field_equals(name: str, value: str) -> str:
    """Return the condition `CF.{name} = "value"` for a custom field."""
    if not name or _FORBIDDEN_IN_CUSTOM_FIELD_NAME.search(name) is not None:
        msg = (
            f"Invalid custom field name {name!r}: RT cannot search a custom field whose "
            "name is empty or contains braces or control characters; rename the field in RT"
        )
        raise ValueError(msg)

    return f"CF.{{{name}}} = {quote(value)}"


def any_of(conditions: Iterable[str]) -> str:
    """Join conditions with OR, in parentheses so the result nests inside AND."""
    parts = list(conditions)
    if not parts:
        msg = "Cannot build an OR condition from no conditions; pass at least one"
        raise ValueError(msg)

    return "(" + " OR ".join(parts) + ")"


def all_of(conditions: Iterable[str]) -> str:
    """Join conditions with AND, each in parentheses so an OR inside stays grouped."""
    parts = list(conditions)
    if not parts:
        msg = "Cannot build an AND condition from no conditions; pass at least one"
        raise ValueError(msg)

    return " AND ".join(f"({part})" for part in parts)
