"""Errors raised when an RT URL or the address it leads to is not allowed."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address


class UnsafeURLReason(StrEnum):
    """Machine-readable cause of an UnsafeURLError."""

    INVALID = "invalid"
    NOT_HTTPS = "not_https"
    BLOCKED_ADDRESS = "blocked_address"


class UnsafeURLError(ValueError):
    """The RT URL is malformed, not HTTPS, or leads to an address that is not allowed.

    It is a ValueError on purpose, not an OSError: aiohttp 3.14 wraps OSErrors raised
    while it connects into ClientConnectorError, but lets other exceptions through, so
    the caller sees this class even when the connector raises it.
    """

    def __init__(self, message: str, *, reason: UnsafeURLReason) -> None:
        """Store the message and the reason code."""
        super().__init__(message)
        self.reason = reason


class BlockedAddressError(UnsafeURLError):
    """The host is, or resolves to, an address that the address policy blocks.

    `address` is None when the host name itself is blocked (for example a cloud
    metadata name), before any address is known.
    """

    def __init__(
        self, message: str, *, host: str, address: IPv4Address | IPv6Address | None
    ) -> None:
        """Store the message, the host as written and the blocked address."""
        super().__init__(message, reason=UnsafeURLReason.BLOCKED_ADDRESS)
        self.host = host
        self.address = address
