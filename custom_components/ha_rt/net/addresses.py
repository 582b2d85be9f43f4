"""Classification of IP addresses for the RT server address policy.

The tables are explicit instead of relying on `ipaddress` properties, because those
drift between Python versions and miss cases that matter here. On Python 3.14:
`is_private` is False for carrier-grade NAT 100.64.0.0/10, and `is_global` is True
for the NAT64 form of loopback 64:ff9b::7f00:1, for the IPv4-compatible form
::127.0.0.1 and for the deprecated site-local fec0::/10.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_network,
)
from typing import Final

type IPAddress = IPv4Address | IPv6Address


class AddressClass(IntEnum):
    """Trust level of an address as an RT server. A higher value is stricter."""

    PUBLIC = 0
    # Reachable only inside a local network: allowed when allow_private_network is on.
    LOCAL = 1
    # Never an RT server: blocked even when allow_private_network is on.
    FORBIDDEN = 2


@dataclass(frozen=True, slots=True)
class Classification:
    """The class of an address or host name and a description for error messages."""

    address_class: AddressClass
    description: str


@dataclass(frozen=True, slots=True)
class SpecialRange:
    """An address range with a class other than PUBLIC."""

    network: IPv4Network | IPv6Network
    classification: Classification


def _range(cidr: str, address_class: AddressClass, description: str) -> SpecialRange:
    return SpecialRange(ip_network(cidr), Classification(address_class, description))


_LOCAL: Final = AddressClass.LOCAL
_FORBIDDEN: Final = AddressClass.FORBIDDEN

# Cloud instance metadata services hand out credentials to any process on the instance,
# so they stay blocked when allow_private_network is on. They come first because the
# first matching range wins, and several sit inside link-local or CGNAT ranges.
METADATA_RANGES: Final = (
    _range(
        "169.254.169.254/32",
        _FORBIDDEN,
        "the cloud instance metadata service (AWS, Azure, Google Cloud, OpenStack and others)",
    ),
    _range("169.254.170.2/32", _FORBIDDEN, "the AWS ECS task metadata and credentials service"),
    _range("169.254.170.23/32", _FORBIDDEN, "the Amazon EKS Pod Identity credentials agent"),
    _range("100.100.100.200/32", _FORBIDDEN, "the Alibaba Cloud instance metadata service"),
    _range("192.0.0.192/32", _FORBIDDEN, "the Oracle Cloud instance metadata service"),
    _range("fd00:ec2::254/128", _FORBIDDEN, "the AWS instance metadata service over IPv6"),
    _range("fd00:ec2::23/128", _FORBIDDEN, "the Amazon EKS Pod Identity agent over IPv6"),
)

# IANA IPv4 Special-Purpose Address Registry (RFC 6890) and related RFCs.
IPV4_RANGES: Final = (
    # Linux connects a socket aimed at 0.0.0.0 to the local host.
    _range("0.0.0.0/8", _FORBIDDEN, "the unspecified 'this network' range (RFC 1122)"),
    _range("127.0.0.0/8", _LOCAL, "a loopback address (RFC 1122)"),
    _range("10.0.0.0/8", _LOCAL, "a private address (RFC 1918)"),
    _range("172.16.0.0/12", _LOCAL, "a private address (RFC 1918)"),
    _range("192.168.0.0/16", _LOCAL, "a private address (RFC 1918)"),
    _range("100.64.0.0/10", _LOCAL, "a carrier-grade NAT shared address (RFC 6598)"),
    _range("169.254.0.0/16", _LOCAL, "a link-local address (RFC 3927)"),
    _range("192.0.0.0/24", _FORBIDDEN, "an IETF protocol assignment (RFC 6890)"),
    _range("192.0.2.0/24", _FORBIDDEN, "a documentation address, TEST-NET-1 (RFC 5737)"),
    _range("198.51.100.0/24", _FORBIDDEN, "a documentation address, TEST-NET-2 (RFC 5737)"),
    _range("203.0.113.0/24", _FORBIDDEN, "a documentation address, TEST-NET-3 (RFC 5737)"),
    _range("198.18.0.0/15", _FORBIDDEN, "a benchmarking address (RFC 2544)"),
    _range("192.88.99.0/24", _FORBIDDEN, "the deprecated 6to4 relay anycast range (RFC 7526)"),
    _range("224.0.0.0/4", _FORBIDDEN, "a multicast address (RFC 5771)"),
    # Includes the limited broadcast address 255.255.255.255 (RFC 919).
    _range("240.0.0.0/4", _FORBIDDEN, "a reserved address (RFC 1112)"),
)

# IANA IPv6 Special-Purpose Address Registry (RFC 6890) and related RFCs. The IPv4-mapped
# (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms are not listed: they
# are judged by the IPv4 address they carry, see EMBEDDED_IPV4_FORMS.
IPV6_RANGES: Final = (
    _range("::/128", _FORBIDDEN, "the unspecified address (RFC 4291)"),
    _range("::1/128", _LOCAL, "the loopback address (RFC 4291)"),
    _range("::/96", _FORBIDDEN, "a deprecated IPv4-compatible address (RFC 4291)"),
    _range("100::/64", _FORBIDDEN, "a discard-only address (RFC 6666)"),
    # A Teredo address carries an obfuscated IPv4 address of the host it reaches.
    _range("2001::/32", _FORBIDDEN, "a Teredo tunnel address (RFC 4380)"),
    _range("2001::/23", _FORBIDDEN, "an IETF protocol assignment (RFC 2928)"),
    _range("2001:db8::/32", _FORBIDDEN, "a documentation address (RFC 3849)"),
    _range("3fff::/20", _FORBIDDEN, "a documentation address (RFC 9637)"),
    _range("5f00::/16", _FORBIDDEN, "an SRv6 segment identifier (RFC 9602)"),
    _range("64:ff9b:1::/48", _LOCAL, "a local-use NAT64 address (RFC 8215)"),
    _range("fc00::/7", _LOCAL, "a unique local address (RFC 4193)"),
    _range("fe80::/10", _LOCAL, "a link-local address (RFC 4291)"),
    _range("fec0::/10", _LOCAL, "a deprecated site-local address (RFC 3879)"),
    _range("ff00::/8", _FORBIDDEN, "a multicast address (RFC 4291)"),
)

# IANA's IPv6 Address Space registry assigns only 2000::/3 as global unicast; every
# other address that no table entry names is reserved.
IPV6_GLOBAL_UNICAST: Final = ip_network("2000::/3")
_IPV6_RESERVED: Final = Classification(
    _FORBIDDEN, "a reserved address outside global unicast 2000::/3 (RFC 4291)"
)
_PUBLIC: Final = Classification(AddressClass.PUBLIC, "a public address")

_NAT64_WELL_KNOWN: Final = ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE: Final = ip_network("64:ff9b:1::/48")

# IPv6 forms that carry an IPv4 address the packets end up at.
EMBEDDED_IPV4_FORMS: Final = (
    "IPv4-mapped (RFC 4291)",
    "NAT64 (RFC 6052)",
    "6to4 (RFC 3056)",
    "local-use NAT64 (RFC 8215)",
)


def embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """Return the IPv4 address an IPv6 address carries and the name of its form.

    For local-use NAT64 the operator picks the prefix length inside 64:ff9b:1::/48.
    The last 32 bits hold the IPv4 address for the common /96 prefix.
    NOTE: shorter prefixes put the IPv4 address elsewhere (RFC 6052), so such
    addresses are judged as local-use NAT64 and by their last 32 bits only.
    """
    low_32_bits = IPv4Address(int(address) & 0xFFFF_FFFF)

    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, EMBEDDED_IPV4_FORMS[0]
    if address in _NAT64_WELL_KNOWN:
        return low_32_bits, EMBEDDED_IPV4_FORMS[1]
    if address.sixtofour is not None:
        return address.sixtofour, EMBEDDED_IPV4_FORMS[2]
    if address in _NAT64_LOCAL_USE:
        return low_32_bits, EMBEDDED_IPV4_FORMS[3]
    return None


def _first_match(address: IPAddress, ranges: tuple[SpecialRange, ...]) -> Classification | None:
    for special_range in ranges:
        if address in special_range.network:
            return special_range.classification
    return None


def classify_address(address: IPAddress) -> Classification:
    """Classify an address as public, local-network only, or forbidden.

    An IPv6 address that carries an IPv4 address gets the stricter class of the two,
    so ::ffff:127.0.0.1 is loopback and 64:ff9b::a9fe:a9fe is the metadata service.
    """
    own = _first_match(address, METADATA_RANGES)
    if own is not None:
        return own

    if isinstance(address, IPv4Address):
        return _first_match(address, IPV4_RANGES) or _PUBLIC

    own = _first_match(address, IPV6_RANGES)
    embedded = embedded_ipv4(address)
    if embedded is None:
        if own is None and address not in IPV6_GLOBAL_UNICAST:
            return _IPV6_RESERVED
        return own or _PUBLIC

    ipv4, form = embedded
    inner = classify_address(ipv4)
    if own is not None and own.address_class > inner.address_class:
        return own
    return Classification(
        inner.address_class, f"{ipv4} in {form} form, which is {inner.description}"
    )
