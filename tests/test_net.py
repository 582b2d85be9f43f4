"""Tests for the RT URL validation and the address policy in custom_components.ha_rt.net.

Everything here is pure: no test resolves a name or opens a socket. The connect-time
guard and resolve_and_check are tested in tests/net/test_net_connector.py.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, ip_address

import pytest

from custom_components.ha_rt.net import (
    AddressClass,
    BlockedAddressError,
    UnsafeURLError,
    UnsafeURLReason,
    classify_address,
    validate_url,
)
from custom_components.ha_rt.net.hosts import parse_ip_literal

INVALID = UnsafeURLReason.INVALID
NOT_HTTPS = UnsafeURLReason.NOT_HTTPS
BLOCKED = UnsafeURLReason.BLOCKED_ADDRESS

# URLs rejected with allow_private_network off, and the reason code expected.
UNSAFE_URLS = [
    # Syntax and scheme.
    ("http://rt.example.com", NOT_HTTPS),
    ("ftp://rt.example.com", NOT_HTTPS),
    ("file:///etc/passwd", NOT_HTTPS),
    ("gopher://rt.example.com:70/", NOT_HTTPS),
    ("rt.example.com", NOT_HTTPS),
    ("//rt.example.com/rt", NOT_HTTPS),
    ("", NOT_HTTPS),
    ("https://", INVALID),
    ("https:///rt", INVALID),
    ("https://user:secret@rt.example.com", INVALID),
    ("https://user@rt.example.com", INVALID),
    ("https://rt.example.com/?debug=1", INVALID),
    ("https://rt.example.com/#top", INVALID),
    ("https://rt.example.com:0/", INVALID),
    ("https://rt.example.com:99999/", INVALID),
    ("https://exa mple.com/", INVALID),
    ("https://rt..example.com/", INVALID),
    ("https://-rt.example.com/", INVALID),
    ("https://%31%32%37.0.0.1/", INVALID),
    ("https://[::1/", INVALID),
    ("https://[fe80::zz]/", INVALID),
    ("https://1.2.3.4.5/", INVALID),
    ("https://256.0.0.1/", INVALID),
    ("https://0x/", INVALID),
    ("https://08.0.0.1/", INVALID),
    ("https://4294967296/", INVALID),
    # Numeric IPv4 forms that inet_aton reads as a public address: rejected as invalid.
    ("https://134744072/", INVALID),
    ("https://0x8.0x8.0x8.0x8/", INVALID),
    # IPv4 ranges.
    ("https://127.0.0.1/", BLOCKED),
    ("https://127.255.255.254:8443/rt", BLOCKED),
    ("https://10.0.0.5/", BLOCKED),
    ("https://172.16.0.1/", BLOCKED),
    ("https://172.31.255.255/", BLOCKED),
    ("https://192.168.1.10/", BLOCKED),
    ("https://100.64.0.1/", BLOCKED),
    ("https://100.127.255.254/", BLOCKED),
    ("https://169.254.1.1/", BLOCKED),
    ("https://169.254.169.254/latest/meta-data", BLOCKED),
    ("https://169.254.170.2/", BLOCKED),
    ("https://100.100.100.200/", BLOCKED),
    ("https://192.0.0.192/", BLOCKED),
    ("https://0.0.0.0/", BLOCKED),
    ("https://0/", BLOCKED),
    ("https://224.0.0.1/", BLOCKED),
    ("https://239.255.255.250/", BLOCKED),
    ("https://240.0.0.1/", BLOCKED),
    ("https://255.255.255.255/", BLOCKED),
    ("https://192.0.2.10/", BLOCKED),
    ("https://198.51.100.10/", BLOCKED),
    ("https://203.0.113.10/", BLOCKED),
    ("https://198.18.0.1/", BLOCKED),
    # Numeric IPv4 forms of loopback and metadata addresses.
    ("https://2130706433/", BLOCKED),
    ("https://0177.0.0.1/", BLOCKED),
    ("https://0x7f.1/", BLOCKED),
    ("https://0X7F.0.0.1/", BLOCKED),
    ("https://127.1/", BLOCKED),
    ("https://127.0.1/", BLOCKED),
    ("https://127.0.0.1./", BLOCKED),
    ("https://0xa9fea9fe/", BLOCKED),
    ("https://2852039166/", BLOCKED),
    ("https://0251.0376.0251.0376/", BLOCKED),
    # IPv6 ranges.
    ("https://[::1]/", BLOCKED),
    ("https://[0:0:0:0:0:0:0:1]/", BLOCKED),
    ("https://[::]/", BLOCKED),
    ("https://[fe80::1]/", BLOCKED),
    ("https://[fe80::1%25eth0]/", BLOCKED),
    ("https://[fc00::1]/", BLOCKED),
    ("https://[fd12:3456:789a::1]/", BLOCKED),
    ("https://[fec0::1]/", BLOCKED),
    ("https://[fd00:ec2::254]/", BLOCKED),
    ("https://[ff02::1]/", BLOCKED),
    ("https://[2001:db8::1]/", BLOCKED),
    ("https://[3fff::1]/", BLOCKED),
    ("https://[100::1]/", BLOCKED),
    ("https://[5f00::1]/", BLOCKED),
    ("https://[4000::1]/", BLOCKED),
    # IPv6 forms that carry a blocked IPv4 address.
    ("https://[::ffff:127.0.0.1]/", BLOCKED),
    ("https://[::ffff:7f00:1]/", BLOCKED),
    ("https://[::ffff:169.254.169.254]/", BLOCKED),
    ("https://[::ffff:10.0.0.1]/", BLOCKED),
    ("https://[::127.0.0.1]/", BLOCKED),
    ("https://[::8.8.8.8]/", BLOCKED),
    ("https://[64:ff9b::127.0.0.1]/", BLOCKED),
    ("https://[64:ff9b::a9fe:a9fe]/", BLOCKED),
    ("https://[64:ff9b:1::a00:1]/", BLOCKED),
    ("https://[2002:7f00:1::]/", BLOCKED),
    ("https://[2002:a9fe:a9fe::1]/", BLOCKED),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", BLOCKED),
    # Host names.
    ("https://localhost/", BLOCKED),
    ("https://LOCALHOST./", BLOCKED),
    ("https://rt.localhost/", BLOCKED),
    ("https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", BLOCKED),
    ("https://metadata.google.internal/", BLOCKED),
    ("https://metadata.google.internal./computeMetadata/v1/", BLOCKED),
    ("https://metadata/", BLOCKED),
    ("https://instance-data/", BLOCKED),
    ("https://rt.corp.internal/", BLOCKED),
    ("https://rt.local/", BLOCKED),
    ("https://rt.home.arpa/", BLOCKED),
]

# URLs accepted with allow_private_network off, and their normalised form.
SAFE_URLS = [
    ("https://rt.example.com", "https://rt.example.com"),
    ("https://rt.example.com/", "https://rt.example.com"),
    ("  https://rt.example.com/  ", "https://rt.example.com"),
    ("https://RT.Example.COM/rt/", "https://rt.example.com/rt"),
    ("https://rt.example.com:443/", "https://rt.example.com"),
    ("https://rt.example.com:8443/rt//", "https://rt.example.com:8443/rt"),
    ("https://rt.example.com/a/../rt/", "https://rt.example.com/rt"),
    ("https://example.com/support/rt/", "https://example.com/support/rt"),
    ("https://rt-1.example.co.uk/", "https://rt-1.example.co.uk"),
    ("https://münchen.example/", "https://xn--mnchen-3ya.example"),
    ("https://rt.example.com./", "https://rt.example.com."),
    ("https://93.184.216.34/", "https://93.184.216.34"),
    ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]"),
    ("https://[::ffff:93.184.216.34]/", "https://[::ffff:93.184.216.34]"),
    ("https://[64:ff9b::5db8:d822]/", "https://[64:ff9b::5db8:d822]"),
    ("https://[2002:5db8:d822::1]/", "https://[2002:5db8:d822::1]"),
]

# Rejected even with allow_private_network on.
ALWAYS_BLOCKED_URLS = [
    "https://169.254.169.254/",
    "https://169.254.170.2/",
    "https://169.254.170.23/",
    "https://100.100.100.200/",
    "https://192.0.0.192/",
    "https://[fd00:ec2::254]/",
    "https://[fd00:ec2::23]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[64:ff9b:1::a9fe:a9fe]/",
    "https://0xa9fea9fe/",
    "https://metadata.google.internal/",
    "https://metadata/",
    "https://instance-data.ec2.internal/",
    "https://0.0.0.0/",
    "https://[::]/",
    "https://224.0.0.251/",
    "https://[ff02::fb]/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.2.10/",
    "https://[2001:db8::1]/",
    "https://[::127.0.0.1]/",
]

# Rejected by default, accepted with allow_private_network on.
LOCAL_NETWORK_URLS = [
    ("https://127.0.0.1:8443/rt/", "https://127.0.0.1:8443/rt"),
    ("https://10.1.2.3/", "https://10.1.2.3"),
    ("https://172.20.0.4/", "https://172.20.0.4"),
    ("https://192.168.178.20/rt", "https://192.168.178.20/rt"),
    ("https://100.64.12.1/", "https://100.64.12.1"),
    ("https://169.254.10.20/", "https://169.254.10.20"),
    ("https://[::1]:8443/", "https://[::1]:8443"),
    ("https://[fd12:3456:789a::1]/", "https://[fd12:3456:789a::1]"),
    ("https://[fe80::1%25eth0]/", "https://[fe80::1%25eth0]"),
    ("https://[::ffff:192.168.1.2]/", "https://[::ffff:192.168.1.2]"),
    ("https://[64:ff9b:1::a00:1]/", "https://[64:ff9b:1::a00:1]"),
    ("https://localhost:8443/", "https://localhost:8443"),
    ("https://rt.corp.internal/", "https://rt.corp.internal"),
    ("https://rt.local/", "https://rt.local"),
    ("https://rt.home.arpa/", "https://rt.home.arpa"),
]

# Numeric hosts that glibc's inet_aton reads, with the address it returns.
NUMERIC_HOSTS = [
    ("2130706433", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("192.168.0x1.01", "192.168.1.1"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("0", "0.0.0.0"),  # noqa: S104 - an address to classify, not a bind address
    ("4294967295", "255.255.255.255"),
    ("1.2.3.04", "1.2.3.4"),
    ("134744072", "8.8.8.8"),
]

# Numeric-looking hosts that inet_aton rejects; the policy calls them invalid.
BAD_NUMERIC_HOSTS = [
    "1.2.3.4.5",
    "256.0.0.1",
    "1.2.3.256",
    "1.2.65536",
    "4294967296",
    "0x100000000",
    "08",
    "0x",
    "0x7g.1",
    "1..1",
]


@pytest.mark.parametrize(("url", "reason"), UNSAFE_URLS)
def test_validate_url_rejects_unsafe_url(url: str, reason: UnsafeURLReason) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_url(url, allow_private_network=False)

    assert caught.value.reason is reason
    assert isinstance(caught.value, BlockedAddressError) == (reason is BLOCKED)


@pytest.mark.parametrize(("url", "expected"), SAFE_URLS)
def test_validate_url_accepts_public_url(url: str, expected: str) -> None:
    assert str(validate_url(url, allow_private_network=False)) == expected


@pytest.mark.parametrize("url", ALWAYS_BLOCKED_URLS)
def test_validate_url_blocks_with_private_network(url: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        validate_url(url, allow_private_network=True)

    assert "never allowed" in str(caught.value)


@pytest.mark.parametrize(("url", "expected"), LOCAL_NETWORK_URLS)
def test_validate_url_local_network_needs_option(url: str, expected: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        validate_url(url, allow_private_network=False)
    assert "allow_private_network" in str(caught.value)

    assert str(validate_url(url, allow_private_network=True)) == expected


@pytest.mark.parametrize(("host", "expected"), NUMERIC_HOSTS)
def test_parse_ip_literal_matches_inet_aton(host: str, expected: str) -> None:
    literal = parse_ip_literal(host)

    assert literal is not None
    assert literal.address == IPv4Address(expected)
    assert literal.address == IPv4Address(socket.inet_aton(host))
    assert literal.canonical is (host == expected)


@pytest.mark.parametrize("host", BAD_NUMERIC_HOSTS)
def test_parse_ip_literal_rejects_what_inet_aton_rejects(host: str) -> None:
    with pytest.raises(OSError, match="illegal IP address"):
        socket.inet_aton(host)

    with pytest.raises(UnsafeURLError) as caught:
        parse_ip_literal(host)
    assert caught.value.reason is INVALID


@pytest.mark.parametrize("host", ["rt.example.com", "rt1", "1rt.example.com", "0x7g", "1e3"])
def test_parse_ip_literal_leaves_names_alone(host: str) -> None:
    assert parse_ip_literal(host) is None


def test_validate_url_numeric_form_names_address() -> None:
    with pytest.raises(BlockedAddressError) as caught:
        validate_url("https://0x7f.1/", allow_private_network=False)

    assert caught.value.address == IPv4Address("127.0.0.1")
    assert caught.value.host == "0x7f.1"
    assert "127.0.0.1" in str(caught.value)
    assert "loopback" in str(caught.value)


def test_validate_url_numeric_form_invalid_with_option() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_url("https://2130706433/rt", allow_private_network=True)

    assert caught.value.reason is INVALID
    assert "Write the address as 127.0.0.1" in str(caught.value)


def test_validate_url_hides_password() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_url("https://admin:hunter2@rt.example.com/", allow_private_network=False)

    assert "hunter2" not in str(caught.value)
    assert "user name or password" in str(caught.value)


def test_validate_url_not_https_message() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_url("http://rt.example.com/rt", allow_private_network=True)

    assert "http://rt.example.com/rt" in str(caught.value)
    assert "https://" in str(caught.value)


def test_validate_url_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"169\.254\.169\.254"):
        validate_url("https://169.254.169.254/", allow_private_network=True)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", AddressClass.PUBLIC),
        ("2606:4700:4700::1111", AddressClass.PUBLIC),
        ("127.0.0.1", AddressClass.LOCAL),
        ("100.64.0.1", AddressClass.LOCAL),
        ("fec0::1", AddressClass.LOCAL),
        ("::ffff:10.0.0.1", AddressClass.LOCAL),
        ("2002:c0a8:101::1", AddressClass.LOCAL),
        ("64:ff9b:1::808:808", AddressClass.LOCAL),
        ("169.254.169.254", AddressClass.FORBIDDEN),
        ("64:ff9b::7f00:1", AddressClass.LOCAL),
        ("64:ff9b::a9fe:a9fe", AddressClass.FORBIDDEN),
        ("64:ff9b:1::a9fe:a9fe", AddressClass.FORBIDDEN),
        ("::127.0.0.1", AddressClass.FORBIDDEN),
        ("2001::1", AddressClass.FORBIDDEN),
        ("5f00::1", AddressClass.FORBIDDEN),
        ("::ffff:0:7f00:1", AddressClass.FORBIDDEN),
    ],
)
def test_classify_address_table(address: str, expected: AddressClass) -> None:
    assert classify_address(ip_address(address)).address_class is expected
