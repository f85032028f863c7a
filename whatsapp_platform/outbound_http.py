"""Requests to URLs that workspaces choose (agents' HTTP tools, event webhooks), guarded against SSRF.

A workspace picks the URL, so it must not be able to point the platform at its own network.
Before connecting, the host is resolved once and refused when any of its addresses is private,
loopback, link-local, multicast, reserved or unspecified, unless an allow-list (a setting per
caller) names it. The request then goes to the address that was vetted, not to a second lookup
that a rebinding DNS server could answer differently (`PinnedAdapter`); TLS still sends SNI and
checks the certificate against the real host name.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import requests

from whatsapp_platform.deadlines import DeadlineAdapter

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL may not be reached: a bad URL, or a host that resolves to a non-public address."""


class HostUnresolved(Exception):
    """The host name did not resolve. `transient` when DNS failed (worth retrying), not when it had no address."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


def url_origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; OutboundRefused when it is not one."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise OutboundRefused("The URL has an invalid port.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("The URL must be http(s) and name a host.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise OutboundRefused(f"{host} is not a valid host name.") from None


def vetted_address(host: str, port: int, *, allowed_hosts: Iterable[str]) -> str:
    """The address to connect to. Refused when any address of the host is not public, unless allow-listed:
    checking every address, not only the first, leaves a round-robin answer nothing to slip through."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostUnresolved(f"Could not resolve the host {host}.", transient=True) from None
    addresses = [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not addresses:
        raise HostUnresolved(f"Could not resolve the host {host}.", transient=False)
    if not host_allow_listed(host, port, allowed_hosts) and not all(address_public(a) for a in addresses):
        raise OutboundRefused(f"refused: {host} resolves to a private address")
    return addresses[0]


def host_allow_listed(host: str, port: int, allowed_hosts: Iterable[str]) -> bool:
    """Entries are `name`, `name:port`, `[v6]` or `[v6]:port`."""
    allowed = {entry.strip().lower().rstrip(".") for entry in allowed_hosts}
    host = host.lower().rstrip(".")
    name = f"[{host}]" if ":" in host else host
    return host in allowed or name in allowed or f"{name}:{port}" in allowed


def address_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return _ip_public(ip.ipv4_mapped)
        # IPv6 forms that carry an IPv4 address which a relay or gateway would reach.
        embedded = [
            ip.sixtofour,
            ip.teredo[1] if ip.teredo else None,
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None,
        ]
        return _ip_public(ip) and all(_ip_public(inner) for inner in embedded if inner is not None)
    return _ip_public(ip)


def _ip_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    ):
        return False
    return ip.is_global  # also false for shared address space (100.64.0.0/10, carrier NAT)


def url_check(url: str, *, allowed_hosts: Iterable[str]) -> str:
    """Resolve the URL's host now and vet it: the address, or OutboundRefused / HostUnresolved."""
    _scheme, host, port = url_origin(url)
    return vetted_address(ascii_host(host), port, allowed_hosts=allowed_hosts)


def pinned_request_target(url: str, address: str) -> tuple[str, str]:
    """(URL naming the vetted address instead of the host, Host header value)."""
    scheme, host, port = url_origin(url)
    name = ascii_host(host)
    bracketed = f"[{name}]" if ":" in name else name
    connect_to = f"[{address}]" if ":" in address else address
    parts = urlsplit(url)
    pinned = urlunsplit((scheme, f"{connect_to}:{port}", parts.path or "/", parts.query, ""))
    default_port = port == (443 if scheme == "https" else 80)
    return pinned, bracketed if default_port else f"{bracketed}:{port}"


class PinnedAdapter(DeadlineAdapter):
    """Sends to the URL's host, which we set to the vetted IP address, while TLS sends SNI and checks
    the certificate against the real host name (urllib3's `server_hostname`). Use one session per call,
    so no pooled connection made for one host is reused for another. Calls inside a `total_deadline`
    are cut when it passes."""

    def __init__(self, *, server_hostname: str):
        self._server_hostname = server_hostname  # before super().__init__, which builds the pool manager
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        # urllib3 drops server_hostname for plain-http pools, so one adapter serves both schemes.
        super().init_poolmanager(connections, maxsize, block, server_hostname=self._server_hostname, **pool_kwargs)


def pinned_session(*, server_hostname: str) -> requests.Session:
    session = requests.Session()
    # No proxy from the environment (it would resolve the name again) and no ~/.netrc credentials.
    session.trust_env = False
    adapter = PinnedAdapter(server_hostname=server_hostname)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
