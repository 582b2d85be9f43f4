"""Tests for the connect-time guard: GuardedConnector, GuardedResolver and the session.

Every connection goes to an aiohttp HTTPS server on 127.0.0.1. Names resolve through
a patched loop.getaddrinfo, and every socket connect is recorded, so a test can show
that a rejected address was never connected to. Where a test needs a "public" server,
a test-only policy treats 127.0.0.1 as public and judges every other address as the
default policy does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
from ipaddress import IPv4Address, ip_address
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from custom_components.ha_rt.net import (
    AddressPolicy,
    BlockedAddressError,
    GuardedConnector,
    UnsafeURLError,
    UnsafeURLReason,
    create_guarded_connector,
    create_guarded_session,
    resolve_and_check,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from custom_components.ha_rt.net.addresses import IPAddress

type AddressInfo = tuple[
    socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int] | tuple[str, int, int, int]
]

SERVER_ADDRESS = "127.0.0.1"
# Names on the test certificate; the fake resolver decides where they point.
CERTIFICATE_NAMES = ("rt.example.com", "localhost")


class ServerIsPublicPolicy(AddressPolicy):
    """Default policy, except that the test server's 127.0.0.1 counts as public."""

    def check_address(self, address: IPAddress, *, host: str) -> None:
        """Allow 127.0.0.1 and judge every other address as the default policy does."""
        if address == IPv4Address(SERVER_ADDRESS):
            return
        AddressPolicy.check_address(self, address, host=host)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and the test names.

    Returns the paths of the certificate and of the key.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ha_rt net tests")])
    now = dt.datetime.now(dt.UTC)
    alternative_names: list[x509.GeneralName] = [
        x509.DNSName(dns_name) for dns_name in CERTIFICATE_NAMES
    ]
    alternative_names.append(x509.IPAddress(IPv4Address(SERVER_ADDRESS)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )

    directory = tmp_path_factory.mktemp("tls")
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def client_ssl(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """Return a client context that trusts the test certificate only."""
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
async def server(certificate: tuple[Path, Path], socket_enabled: None) -> AsyncIterator[TestServer]:
    """Run an HTTPS server on 127.0.0.1.

    /ok returns 200 and closes the connection, so the next request needs a new one.
    /redirect?to=URL returns a 302 redirect to URL.
    """

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"Version": "5.0.3"}, headers={"Connection": "close"})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/redirect", redirect)

    # A client that rejects the certificate resets the TLS handshake, which asyncio
    # reports to the loop's exception handler, and the hass fixture fails the test
    # on any such report. That reset is the expected outcome in the certificate tests.
    loop = asyncio.get_running_loop()
    report = loop.get_exception_handler()

    def ignore_failed_handshake(
        loop: asyncio.AbstractEventLoop, context: dict[str, object]
    ) -> None:
        if isinstance(context.get("exception"), ConnectionResetError | ssl.SSLError):
            return
        if report is None:
            loop.default_exception_handler(context)
        else:
            report(loop, context)

    loop.set_exception_handler(ignore_failed_handshake)

    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(*certificate)
    test_server = TestServer(app, host=SERVER_ADDRESS)
    await test_server.start_server(ssl=server_ssl)
    yield test_server
    await test_server.close()
    loop.set_exception_handler(report)


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Replace loop.getaddrinfo with a dict of name -> successive lists of addresses.

    Each lookup takes the next list, and the last list repeats. No DNS server is queried.
    """
    answers: dict[str, list[list[str]]] = {}
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: int, **_: object) -> list[AddressInfo]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        infos: list[AddressInfo] = []
        for address in answer:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if ":" in address else (address, port)
            infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
async def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the address of every socket connect and fail any not to 127.0.0.1.

    aiohttp 3.14 opens connections through aiohappyeyeballs, which calls
    loop.sock_connect. The failure backs up pytest-socket's host filter.
    """
    addresses: list[str] = []
    loop = asyncio.get_running_loop()
    real_sock_connect = loop.sock_connect

    async def sock_connect(sock: socket.socket, address: tuple[str, int]) -> None:
        addresses.append(address[0])
        if address[0] != SERVER_ADDRESS:
            msg = f"test tried to connect to {address[0]}"
            raise AssertionError(msg)
        await real_sock_connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    return addresses


@pytest.fixture
async def public_session(client_ssl: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    """Return a session whose connector treats only 127.0.0.1 as public."""
    connector = GuardedConnector(
        policy=ServerIsPublicPolicy(allow_private_network=False), ssl=client_ssl
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.fixture
async def lan_session(client_ssl: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    """Return the product's session with allow_private_network on."""
    session = create_guarded_session(
        allow_private_network=True, verify_ssl=True, ssl_context=client_ssl
    )
    async with session:
        yield session


async def test_session_reaches_loopback_with_private_network(
    lan_session: aiohttp.ClientSession, server: TestServer, connects: list[str]
) -> None:
    async with lan_session.get(server.make_url("/ok")) as response:
        assert response.status == 200
        assert await response.json() == {"Version": "5.0.3"}

    assert connects == [SERVER_ADDRESS]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.0.0.1"])
async def test_connector_default_policy_rejects_local(
    client_ssl: ssl.SSLContext, dns, connects: list[str], socket_enabled: None, host: str
) -> None:
    dns["localhost"] = [["127.0.0.1"]]
    connector = create_guarded_connector(allow_private_network=False, ssl=client_ssl)

    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(BlockedAddressError):
            await session.get(f"https://{host}:8443/ok")

    assert connects == []


@pytest.mark.parametrize(
    ("answer", "allow_private_network"),
    [
        (["127.0.0.1"], False),
        (["10.0.0.7"], False),
        (["::1"], False),
        (["::ffff:127.0.0.1"], False),
        (["169.254.169.254"], True),
        (["::ffff:169.254.169.254"], True),
        (["64:ff9b::a9fe:a9fe"], True),
        (["fd00:ec2::254"], True),
        (["100.100.100.200"], True),
        (["0.0.0.0"], True),  # noqa: S104 - an answer to check, not a bind address
        (["127.0.0.1", "169.254.169.254"], True),
    ],
)
async def test_connector_rejects_name_resolving_to_blocked(
    client_ssl: ssl.SSLContext,
    dns,
    connects: list[str],
    socket_enabled: None,
    answer: list[str],
    allow_private_network: bool,
) -> None:
    dns["rt.example.com"] = [answer]
    connector = create_guarded_connector(
        allow_private_network=allow_private_network, ssl=client_ssl
    )

    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(BlockedAddressError) as caught:
            await session.get("https://rt.example.com:8443/ok")

    assert caught.value.host == "rt.example.com"
    assert caught.value.address in {ip_address(address) for address in answer}
    assert not isinstance(caught.value, aiohttp.ClientError)
    assert connects == []


async def test_connector_rejects_mixed_answer(
    public_session: aiohttp.ClientSession,
    server: TestServer,
    dns,
    connects: list[str],
) -> None:
    dns["rt.example.com"] = [[SERVER_ADDRESS, "127.0.0.2"]]

    with pytest.raises(BlockedAddressError) as caught:
        await public_session.get(f"https://rt.example.com:{server.port}/ok")

    assert caught.value.address == IPv4Address("127.0.0.2")
    assert connects == []


async def test_connector_follows_allowed_redirect(
    public_session: aiohttp.ClientSession, server: TestServer, dns, connects: list[str]
) -> None:
    dns["rt.example.com"] = [[SERVER_ADDRESS]]
    target = f"https://rt.example.com:{server.port}/ok"

    async with public_session.get(server.make_url("/redirect").with_query(to=target)) as response:
        assert response.status == 200
        assert str(response.url) == target

    assert connects == [SERVER_ADDRESS, SERVER_ADDRESS]


@pytest.mark.parametrize(
    "target_host",
    [
        "127.0.0.2",
        "2130706434",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.2]",
        "rebound.example.com",
        "169.254.169.254",
        "metadata.google.internal",
    ],
)
async def test_connector_rejects_redirect_to_blocked_host(
    public_session: aiohttp.ClientSession,
    server: TestServer,
    dns,
    connects: list[str],
    target_host: str,
) -> None:
    dns["rebound.example.com"] = [["127.0.0.2"]]
    dns["localhost"] = [["127.0.0.1", "::1"]]
    target = f"https://{target_host}:{server.port}/ok"

    with pytest.raises(BlockedAddressError):
        await public_session.get(server.make_url("/redirect").with_query(to=target))

    assert connects == [SERVER_ADDRESS]


async def test_session_rejects_redirect_to_metadata_with_private_network(
    lan_session: aiohttp.ClientSession, server: TestServer, connects: list[str]
) -> None:
    target = "https://169.254.169.254/latest/meta-data/iam/security-credentials/"

    with pytest.raises(BlockedAddressError) as caught:
        await lan_session.get(server.make_url("/redirect").with_query(to=target))

    assert caught.value.address == IPv4Address("169.254.169.254")
    assert "never allowed" in str(caught.value)
    assert connects == [SERVER_ADDRESS]


async def test_connector_rejects_redirect_to_plain_http(
    lan_session: aiohttp.ClientSession, server: TestServer, connects: list[str]
) -> None:
    target = f"http://{SERVER_ADDRESS}:{server.port}/ok"

    with pytest.raises(UnsafeURLError) as caught:
        await lan_session.get(server.make_url("/redirect").with_query(to=target))

    assert caught.value.reason is UnsafeURLReason.NOT_HTTPS
    assert connects == [SERVER_ADDRESS]


async def test_connector_rechecks_rebound_name(
    public_session: aiohttp.ClientSession, server: TestServer, dns, connects: list[str]
) -> None:
    dns["rt.example.com"] = [[SERVER_ADDRESS], ["127.0.0.2"]]
    url = f"https://rt.example.com:{server.port}/ok"

    async with public_session.get(url) as response:
        assert response.status == 200
    # The server closed the connection, so the next request needs a new one. Clearing
    # the cache has the effect of its TTL (ttl_dns_cache, 10 s by default) running out.
    public_session.connector.clear_dns_cache()  # type: ignore[union-attr]

    with pytest.raises(BlockedAddressError) as caught:
        await public_session.get(url)

    assert caught.value.address == IPv4Address("127.0.0.2")
    assert connects == [SERVER_ADDRESS]


async def test_session_rechecks_rebound_name_to_metadata(
    lan_session: aiohttp.ClientSession, server: TestServer, dns, connects: list[str]
) -> None:
    dns["rt.example.com"] = [[SERVER_ADDRESS], ["169.254.169.254"]]
    url = f"https://rt.example.com:{server.port}/ok"

    async with lan_session.get(url) as response:
        assert response.status == 200
    lan_session.connector.clear_dns_cache()  # type: ignore[union-attr]

    with pytest.raises(BlockedAddressError):
        await lan_session.get(url)

    assert connects == [SERVER_ADDRESS]


async def test_connector_rejects_proxy(
    lan_session: aiohttp.ClientSession, server: TestServer, connects: list[str]
) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        await lan_session.get(server.make_url("/ok"), proxy=f"http://{SERVER_ADDRESS}:3128")

    assert caught.value.reason is UnsafeURLReason.INVALID
    assert "proxy" in str(caught.value)
    assert connects == []


@pytest.mark.parametrize(
    ("verify_ssl", "use_context", "expected_status"),
    [(True, True, 200), (False, False, 200), (True, False, None)],
)
async def test_session_certificate_checks(
    client_ssl: ssl.SSLContext,
    server: TestServer,
    connects: list[str],
    verify_ssl: bool,
    use_context: bool,
    expected_status: int | None,
) -> None:
    session = create_guarded_session(
        allow_private_network=True,
        verify_ssl=verify_ssl,
        ssl_context=client_ssl if use_context else None,
    )

    async with session:
        if expected_status is None:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(server.make_url("/ok"))
        else:
            async with session.get(server.make_url("/ok")) as response:
                assert response.status == expected_status

    assert connects == [SERVER_ADDRESS]


async def test_session_ignores_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://{SERVER_ADDRESS}:3128")

    async with create_guarded_session(allow_private_network=False, verify_ssl=True) as session:
        assert session.trust_env is False


async def test_resolve_and_check_returns_addresses(dns) -> None:
    dns["rt.example.com"] = [["93.184.216.34", "2606:2800:220:1::1"]]

    addresses = await resolve_and_check("rt.example.com", 443, allow_private_network=False)

    assert addresses == [ip_address("93.184.216.34"), ip_address("2606:2800:220:1::1")]


@pytest.mark.parametrize(
    ("answer", "allow_private_network"),
    [
        (["127.0.0.1"], False),
        (["93.184.216.34", "10.0.0.7"], False),
        (["2606:2800:220:1::1", "::1"], False),
        (["::ffff:127.0.0.1"], False),
        (["169.254.169.254"], True),
        (["10.0.0.7", "169.254.169.254"], True),
        (["fd00:ec2::254"], True),
        (["0.0.0.0"], True),  # noqa: S104 - an answer to check, not a bind address
    ],
)
async def test_resolve_and_check_rejects_blocked_answer(
    dns, answer: list[str], allow_private_network: bool
) -> None:
    dns["rt.example.com"] = [answer]

    with pytest.raises(BlockedAddressError) as caught:
        await resolve_and_check("rt.example.com", 443, allow_private_network=allow_private_network)

    assert caught.value.host == "rt.example.com"
    assert str(caught.value.address) in answer
    assert "rt.example.com" in str(caught.value)


async def test_resolve_and_check_allows_lan_with_option(dns) -> None:
    dns["rt.lan"] = [["192.168.1.20", "fd12::20"]]

    addresses = await resolve_and_check("rt.lan", 443, allow_private_network=True)

    assert addresses == [ip_address("192.168.1.20"), ip_address("fd12::20")]


async def test_resolve_and_check_rejects_metadata_name_before_lookup(dns) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        await resolve_and_check("metadata.google.internal", 80, allow_private_network=True)

    assert caught.value.address is None


async def test_resolve_and_check_unknown_name_raises_oserror(dns) -> None:
    with pytest.raises(socket.gaierror):
        await resolve_and_check("missing.example.com", 443, allow_private_network=False)
