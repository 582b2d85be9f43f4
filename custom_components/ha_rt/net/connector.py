"""Connect-time enforcement of the address policy for aiohttp.

The policy is checked on every new connection, not only when the URL is typed, so a
redirect to a blocked address and a name whose DNS answer changes after set-up (DNS
rebinding) are rejected before a socket is opened.

Two public aiohttp extension points share the work (checked against aiohttp 3.14):

- GuardedResolver, passed as the connector's resolver, checks every address a name
  resolves to. TCPConnector caches resolver results for ttl_dns_cache seconds, and
  each cached result passed this resolver under the connector's policy, which never
  changes.
- GuardedConnector.connect checks the request's host before aiohttp looks at it.
  TCPConnector._resolve_host returns IP literals without calling the resolver, so
  literals are checked here. connect runs for every request, each redirect included.

The errors are ValueError subclasses, so aiohttp, which wraps OSErrors raised during
resolution into ClientConnectorDNSError, passes them to the caller unchanged.
"""

from __future__ import annotations

import socket
from ipaddress import ip_address
from typing import TYPE_CHECKING

from aiohttp import ClientSession, TCPConnector
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from .errors import UnsafeURLError, UnsafeURLReason
from .policy import AddressPolicy

if TYPE_CHECKING:
    from ssl import SSLContext

    from aiohttp import ClientRequest, ClientTimeout
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

    from .addresses import IPAddress


class GuardedResolver(AbstractResolver):
    """Resolver that rejects a host name when any of its addresses is blocked.

    Rejecting all results when one address is blocked is the safe choice for a mixed
    DNS answer, because aiohttp would otherwise try the addresses in turn.
    """

    def __init__(self, policy: AddressPolicy, resolver: AbstractResolver | None = None) -> None:
        """Wrap resolver, by default the system resolver through loop.getaddrinfo.

        ThreadedResolver is the default, not aiodns, because getaddrinfo reads names
        the way the rest of the system does (/etc/hosts, mDNS through nsswitch) and
        reads numeric hosts the way the address policy assumes.
        """
        self._policy = policy
        self._resolver = resolver if resolver is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve host and return its addresses, or raise if any of them is blocked.

        Raises:
            BlockedAddressError: the name or one of its addresses is blocked.
            UnsafeURLError: reason "invalid", the host is malformed.
            OSError: the name does not resolve (socket.gaierror).

        """
        self._policy.check_host(host)

        results = await self._resolver.resolve(host, port, family)

        for result in results:
            self._policy.check_address(ip_address(result["host"]), host=host)
        return results

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._resolver.close()


class GuardedConnector(TCPConnector):
    """TCPConnector that enforces an address policy and HTTPS on every connection."""

    def __init__(self, *, policy: AddressPolicy, ssl: SSLContext | bool) -> None:
        """Create the connector. With ssl=False it still uses TLS but skips certificate checks."""
        super().__init__(ssl=ssl, resolver=GuardedResolver(policy))
        self._policy = policy

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: ClientTimeout,  # noqa: ASYNC109 - the signature of BaseConnector.connect
    ) -> Connection:
        """Check the request's host and scheme, then get a connection from aiohttp.

        Raises:
            BlockedAddressError: the host is a blocked address or name.
            UnsafeURLError: plain HTTP ("not_https"), a proxy or a malformed host
                ("invalid").

        """
        if req.proxy is not None:
            # A proxy resolves the RT host itself, out of reach of this check.
            msg = (
                f"Rejected request to {req.url.origin()} through a proxy: the address "
                "policy cannot check the addresses a proxy connects to. Remove the proxy."
            )
            raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)

        if not req.is_ssl():
            msg = (
                f"Rejected plain HTTP request to {req.url.origin()}: the RT server must use "
                "https, also after a redirect."
            )
            raise UnsafeURLError(msg, reason=UnsafeURLReason.NOT_HTTPS)

        host = req.url.raw_host
        if not host:
            msg = f"Invalid request URL {req.url!s}: it has no host."
            raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)
        self._policy.check_host(host)

        return await super().connect(req, traces, timeout)


async def resolve_and_check(
    host: str, port: int, *, allow_private_network: bool
) -> list[IPAddress]:
    """Resolve host without blocking the event loop and return its addresses.

    Raises:
        BlockedAddressError: the name or any of its addresses is blocked.
        UnsafeURLError: reason "invalid", the host is malformed.
        OSError: the name does not resolve (socket.gaierror).

    """
    resolver = GuardedResolver(AddressPolicy(allow_private_network=allow_private_network))

    results = await resolver.resolve(host, port, family=socket.AF_UNSPEC)

    return [ip_address(result["host"]) for result in results]


def create_guarded_connector(
    *, allow_private_network: bool, ssl: SSLContext | bool
) -> TCPConnector:
    """Create a connector that checks the address policy on every connection."""
    policy = AddressPolicy(allow_private_network=allow_private_network)
    return GuardedConnector(policy=policy, ssl=ssl)


def create_guarded_session(
    *, allow_private_network: bool, verify_ssl: bool, ssl_context: SSLContext | None = None
) -> ClientSession:
    """Create a session for the RT server. The caller closes it.

    ssl_context, when given, replaces the default certificate checks, for example to
    trust a private CA. verify_ssl=False turns certificate checks off and wins.
    """
    ssl: SSLContext | bool = verify_ssl
    if verify_ssl and ssl_context is not None:
        ssl = ssl_context

    connector = create_guarded_connector(allow_private_network=allow_private_network, ssl=ssl)

    # trust_env=False ignores proxies set in the environment, because a proxy would
    # resolve the RT host itself and GuardedConnector rejects proxied requests.
    return ClientSession(connector=connector, trust_env=False)
