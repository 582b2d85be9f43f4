"""The address policy: which hosts and addresses an RT server may have."""

from __future__ import annotations

from dataclasses import dataclass

from .addresses import AddressClass, Classification, IPAddress, classify_address
from .errors import BlockedAddressError, UnsafeURLError, UnsafeURLReason
from .hosts import classify_host_name, normalise_host_name, parse_ip_literal

_LOCAL_HINT = (
    "Turn on allow_private_network to use an RT server on the local network, "
    "or use the server's public address."
)
_FORBIDDEN_HINT = (
    "Such hosts are never allowed, even with allow_private_network; "
    "use the RT server's own address."
)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Rules for the hosts and addresses the integration may connect to.

    Public addresses are always allowed. Loopback, private, link-local, unique-local
    and carrier-grade NAT addresses are allowed only with allow_private_network.
    Cloud metadata, multicast, unspecified and reserved addresses are never allowed.
    """

    allow_private_network: bool

    def check_host(self, host: str) -> IPAddress | None:
        """Raise unless a URL host may be contacted, before anything is resolved.

        Returns the address when the host is an IP literal, or None for a host name,
        whose addresses must still pass check_address once resolved.

        Raises:
            BlockedAddressError: the literal address or the name is blocked.
            UnsafeURLError: reason "invalid", the host is malformed or a numeric
                IPv4 form other than the dotted quad.

        """
        literal = parse_ip_literal(host)
        if literal is None:
            self.check_host_name(host)
            return None

        self.check_address(literal.address, host=host)
        if not literal.canonical:
            # TLS certificate checks and other resolvers do not read such forms the
            # way getaddrinfo does, so only the dotted quad is accepted.
            msg = (
                f"Invalid host {host!r}: it is a numeric form that getaddrinfo reads "
                f"as {literal.address}. Write the address as {literal.address}."
            )
            raise UnsafeURLError(msg, reason=UnsafeURLReason.INVALID)
        return literal.address

    def check_host_name(self, host: str) -> None:
        """Raise if a host name is malformed or known to name a blocked service.

        Raises:
            BlockedAddressError: a metadata service name, or a local-only name such
                as localhost while allow_private_network is off.
            UnsafeURLError: reason "invalid", the name breaks the DNS name syntax.

        """
        name = normalise_host_name(host)
        classification = classify_host_name(name)

        if self._allows(classification):
            return

        msg = (
            f"RT server host name {host!r} is blocked because it is "
            f"{classification.description}. {self._hint(classification)}"
        )
        raise BlockedAddressError(msg, host=host, address=None)

    def check_address(self, address: IPAddress, *, host: str) -> None:
        """Raise if an address, written as host or resolved from it, is blocked.

        Raises:
            BlockedAddressError: the address is blocked by this policy.

        """
        classification = classify_address(address)

        if self._allows(classification):
            return

        source = "" if host == str(address) else f" (host {host!r})"
        msg = (
            f"RT server address {address}{source} is blocked because it is "
            f"{classification.description}. {self._hint(classification)}"
        )
        raise BlockedAddressError(msg, host=host, address=address)

    def _allows(self, classification: Classification) -> bool:
        if classification.address_class is AddressClass.PUBLIC:
            return True
        return classification.address_class is AddressClass.LOCAL and self.allow_private_network

    @staticmethod
    def _hint(classification: Classification) -> str:
        if classification.address_class is AddressClass.LOCAL:
            return _LOCAL_HINT
        return _FORBIDDEN_HINT
