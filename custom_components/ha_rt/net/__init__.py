"""Server-side request forgery protection for the RT server URL.

validate_url checks the URL as the user types it. The connector from
create_guarded_connector, or the session from create_guarded_session, checks every
connection, so it also rejects host names that resolve to blocked addresses and
redirects that lead to them.

This package imports nothing from Home Assistant.
"""

from .addresses import AddressClass, Classification, classify_address
from .connector import (
    GuardedConnector,
    GuardedResolver,
    create_guarded_connector,
    create_guarded_session,
    resolve_and_check,
)
from .errors import BlockedAddressError, UnsafeURLError, UnsafeURLReason
from .policy import AddressPolicy
from .url import validate_url

__all__ = [
    "AddressClass",
    "AddressPolicy",
    "BlockedAddressError",
    "Classification",
    "GuardedConnector",
    "GuardedResolver",
    "UnsafeURLError",
    "UnsafeURLReason",
    "classify_address",
    "create_guarded_connector",
    "create_guarded_session",
    "resolve_and_check",
    "validate_url",
]
