"""Which hosts the server may contact on a client's say-so (Web Push endpoints): public
addresses only, so a registered URL cannot make the server reach its own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, Teredo), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is None and address.teredo is not None:
        embedded = address.teredo[1]
    return embedded


def address_forbidden(address: Address) -> bool:
    """True for loopback, private, link-local, multicast, reserved and other non-global
    addresses, including IPv4 hidden in IPv6 forms (mapped, 6to4, Teredo)."""
    embedded = embedded_ipv4(address)
    if embedded is not None and address_forbidden(embedded):
        return True
    return not_public(address)


def not_public(address: Address) -> bool:
    """The address itself (not what it may carry) is not a public unicast address."""
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def host_is_public(host: str, port: int = 443) -> bool:
    """True when the host resolves, and every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    return bool(addresses) and not any(address_forbidden(a) for a in addresses)
