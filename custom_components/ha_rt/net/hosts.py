"""Reading the host part of a URL: IP literals, numeric IPv4 forms and host names."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Final

from .addresses import AddressClass, Classification, IPAddress
from .errors import UnsafeURLError, UnsafeURLReason

_HEX_PREFIXES: Final = ("0x", "0X")
_IPV4_BYTES: Final = 4
_BYTE_MAX: Final = 0xFF
_MAX_NAME_LENGTH: Final = 253
# A label contains letters, digits, hyphens and underscores, with no hyphen at either
# end (RFC 1123). Underscores are outside RFC 1123, but names on local networks use them.
_LABEL: Final = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")

# Host names of cloud instance metadata services, blocked even when
# allow_private_network is on. Google Cloud also resolves the bare name "metadata"
# through its search domain, and AWS resolves "instance-data".
METADATA_HOST_NAMES: Final = frozenset(
    {
        "metadata.google.internal",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "rancher-metadata",
    }
)

# Special-use domains whose names only ever point into a local network.
LOCAL_NAME_SUFFIXES: Final = (
    ("localhost", "a loopback name (RFC 6761)"),
    ("local", "a multicast DNS name (RFC 6762)"),
    ("home.arpa", "a home network name (RFC 8375)"),
    ("internal", "a private-use name under .internal, reserved by ICANN in 2024"),
)


@dataclass(frozen=True, slots=True)
class IPLiteral:
    """An IP address written as a URL host."""

    address: IPAddress
    # False for numeric forms other than the dotted quad, such as 0x7f.1 or 2130706433.
    canonical: bool


def parse_ip_literal(host: str) -> IPLiteral | None:
    """Read a URL host as an IP address the way getaddrinfo would, or return None for a name.

    Numeric IPv4 forms that inet_aton accepts (decimal 2130706433, octal 0177.0.0.1,
    hex 0x7f.1, short 127.1) are read as the address they stand for. As in the WHATWG
    URL standard, a host whose last label is a number must be an IPv4 address.

    Raises:
        UnsafeURLError: reason "invalid", the host looks numeric but is no address.

    """
    if ":" in host:
        return IPLiteral(_parse_ipv6(host), canonical=True)

    without_root = host.removesuffix(".")
    last_label = without_root.rpartition(".")[2]
    if not _is_numeric_label(last_label):
        return None

    try:
        return IPLiteral(IPv4Address(host), canonical=True)
    except ValueError:
        pass

    try:
        return IPLiteral(_parse_inet_aton(without_root), canonical=False)
    except ValueError as err:
        msg = (
            f"Invalid host {host!r}: it ends in a number but is not an IPv4 address. "
            "Write the RT server's address as four decimal numbers (a.b.c.d) or use its name."
        )
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID) from err


def _parse_ipv6(host: str) -> IPv6Address:
    try:
        address = ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError as err:
        msg = f"Invalid host {host!r}: it contains ':' but is not an IPv6 address."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID) from err

    if not isinstance(address, IPv6Address):
        msg = f"Invalid host {host!r}: an IPv4 address must not contain ':'."
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)
    return address


def _is_numeric_label(label: str) -> bool:
    if label.startswith(_HEX_PREFIXES):
        return all(char in string.hexdigits for char in label[2:])
    return label.isascii() and label.isdigit()


def _parse_inet_aton(host: str) -> IPv4Address:
    """Read 1 to 4 dot-separated numbers as glibc's inet_aton does.

    Every number but the last is one byte; the last fills the remaining bytes, so
    127.1 is 127.0.0.1 and 2130706433 is 127.0.0.1 too.
    """
    numbers = [_parse_inet_aton_number(part) for part in host.split(".")]
    if len(numbers) > _IPV4_BYTES:
        msg = f"{host!r} has more than 4 parts"
        raise ValueError(msg)

    *leading, last = numbers
    last_bytes = _IPV4_BYTES - len(leading)
    if any(number > _BYTE_MAX for number in leading) or last >= 1 << (8 * last_bytes):
        msg = f"{host!r} has a part out of range"
        raise ValueError(msg)

    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (_IPV4_BYTES - 1 - position))
    return IPv4Address(value)


def _parse_inet_aton_number(part: str) -> int:
    digits, base, alphabet = part, 10, string.digits
    if part.startswith(_HEX_PREFIXES):
        digits, base, alphabet = part[2:], 16, string.hexdigits
    elif part.startswith("0") and len(part) > 1:
        digits, base, alphabet = part[1:], 8, string.octdigits

    # "0x" alone has no digits, and glibc rejects it.
    if not digits or any(char not in alphabet for char in digits):
        msg = f"{part!r} is not a decimal, octal or hex number"
        raise ValueError(msg)
    return int(digits, base)


def normalise_host_name(host: str) -> str:
    """Return the host name in lower case without the trailing root dots.

    Raises:
        UnsafeURLError: reason "invalid", the name breaks the DNS name syntax.

    """
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if len(name) > _MAX_NAME_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        msg = (
            f"Invalid host name {host!r}: use letters, digits and hyphens in dot-separated "
            "labels of at most 63 characters."
        )
        raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)
    return name


def classify_host_name(name: str) -> Classification:
    """Classify a normalised host name by what it is known to point at before resolving it."""
    if name in METADATA_HOST_NAMES:
        return Classification(
            AddressClass.FORBIDDEN, "the name of a cloud instance metadata service"
        )

    for suffix, description in LOCAL_NAME_SUFFIXES:
        if name == suffix or name.endswith(f".{suffix}"):
            return Classification(AddressClass.LOCAL, description)

    return Classification(AddressClass.PUBLIC, "a public name")
