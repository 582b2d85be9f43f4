"""Validation of the RT server URL as the user types it."""

from __future__ import annotations

from typing import Final

from yarl import URL

from .errors import UnsafeURLError, UnsafeURLReason
from .policy import AddressPolicy

_HTTPS_PORT: Final = 443


def validate_url(url: str, *, allow_private_network: bool) -> URL:
    """Check the RT server URL without any I/O and return it normalised.

    The URL must be https with a host, without user name, password, query or
    fragment. Its host must pass the address policy: IP literals and numeric IPv4
    forms are classified here, names only by what they are known to be (localhost,
    metadata names). Their resolved addresses are checked when connecting.

    The result has no trailing slash and no explicit default port, so RT under a
    path stays a prefix: https://rt.example.com/rt/ becomes https://rt.example.com/rt.

    Raises:
        BlockedAddressError: the host is a blocked address or name.
        UnsafeURLError: the URL is malformed ("invalid") or not https ("not_https").

    """
    parsed = _parse(url.strip())

    _check_parts(parsed)

    host = parsed.raw_host
    if not host:
        msg = f"Invalid RT URL {url!r}: it has no host. Use a URL like https://rt.example.com."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)
    AddressPolicy(allow_private_network=allow_private_network).check_host(host)

    return _normalise(parsed)


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except (TypeError, ValueError) as err:
        # The URL is not echoed because it may carry a password.
        msg = f"Invalid RT URL: {err}. Use a URL like https://rt.example.com."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID) from err


def _check_parts(parsed: URL) -> None:
    # Checked first and without echoing the URL, which would show the password.
    if parsed.raw_user is not None or parsed.raw_password is not None:
        msg = (
            "Invalid RT URL: it contains a user name or password. Remove them; the "
            "integration signs in to RT with the API token."
        )
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)

    if not parsed.scheme:
        msg = f"RT URL {str(parsed)!r} has no scheme. Start the URL with https://."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.NOT_HTTPS)

    if parsed.scheme != "https":
        msg = (
            f"RT URL {str(parsed)!r} uses {parsed.scheme}, but only https is allowed. "
            "Start the URL with https://."
        )
        raise UnsafeURLError(msg, reason=UnsafeURLReason.NOT_HTTPS)

    if parsed.raw_query_string or parsed.raw_fragment:
        msg = (
            f"Invalid RT URL {str(parsed)!r}: it has a query or fragment. Use the base "
            "URL of RT, such as https://rt.example.com or https://example.com/rt."
        )
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)

    if parsed.explicit_port == 0:
        msg = f"Invalid RT URL {str(parsed)!r}: port 0 cannot be connected to."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)


def _normalise(parsed: URL) -> URL:
    port = None if parsed.explicit_port == _HTTPS_PORT else parsed.explicit_port
    return parsed.with_port(port).with_path(parsed.raw_path.rstrip("/"), encoded=True)
