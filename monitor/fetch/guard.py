"""The address guard: which addresses a request may connect to (server-side request forgery).

The monitor fetches URLs that strangers choose: feed and listing links, sitemap entries, every
redirect hop. A URL the operator wrote in the config is trusted: requests to its host may reach
whatever address that host has. Any other request connects only to a public address, or to what
``fetch.allow_private`` lists (host names, addresses, CIDR ranges).

The decision is taken on the address the connection really uses, inside aiohttp:

- :class:`GuardedResolver` filters every name lookup, so the answer checked is the answer used
  (a name that resolves to a public address once and to a private one the next time, DNS
  rebinding, cannot slip through);
- :class:`GuardedConnector` checks literal addresses, which aiohttp never passes to a resolver,
  before connecting, and the peer address of every connection it hands out, pooled ones
  included: the pool is keyed by host and port, not by who may reach them.

Every redirect hop aiohttp follows asks the connector again. Which hosts the current request
trusts travels in a context variable set by ``HttpClient.get`` (:func:`trusting`): aiohttp gives
its resolver and connector no per-request argument, and both run in the requesting task as long
as the connector's DNS cache, which shares answers across requests, is off.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.resolver import DefaultResolver
from aiohttp.tracing import Trace
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TRUSTED: ContextVar[frozenset[str]] = ContextVar("monitor_trusted_hosts", default=frozenset())


class AddressRefused(aiohttp.ClientError):
    """A request the guard stopped before it connected; the message is one line for humans."""


@lru_cache(maxsize=8192)
def normalise_host(host: str) -> str:
    """Lower case, no brackets nor trailing dot; an IPv4 address in any numeric spelling
    (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``) as a dotted quad, since a host whose
    last label is a number is an IPv4 address (WHATWG URL) and the C resolver reads it so."""
    host = host.strip().lower().strip("[]").rstrip(".")
    if ":" not in host and _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return host  # not an address (e.g. 1.2.3.4.5): name resolution will fail on it
    return host


def host_of(url: str) -> str:
    """The normalised host of ``url`` (or of a bare host name)."""
    if "://" not in url:
        return normalise_host(url)
    try:
        return normalise_host(URL(url).raw_host or "")
    except (ValueError, TypeError):
        return ""


def ip_of(host: str) -> IPAddress | None:
    """The address a (normalised) host is, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _unwrapped(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible, NAT64, 6to4,
    Teredo client), else the address itself."""
    if ip.version == 4:
        return ip
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_kind(ip: IPAddress) -> str | None:
    """None for a public address; else what it is: "private" (loopback, RFC 1918, link-local,
    CGNAT, unspecified, documentation …), "multicast" or "reserved"."""
    ip = _unwrapped(ip)
    if ip.is_multicast:
        return "multicast"
    if ip.is_global and not ip.is_reserved:  # is_global already excludes CGNAT 100.64.0.0/10
        return None
    if ip.is_reserved and not ip.is_private:
        return "reserved"
    return "private"


class AddressPolicy:
    """``fetch.allow_private``: host names reachable at any address, and address ranges
    (a single address is a range of one) reachable by any request."""

    def __init__(self, allow_private: Iterable[str] = ()) -> None:
        networks, hosts = [], set()
        for entry in allow_private:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(normalise_host(entry))
        self.networks = tuple(networks)
        self.hosts = frozenset(hosts)

    def trusts(self, host: str, trusted: frozenset[str]) -> bool:
        """Whether requests to (normalised) ``host`` may go to any address."""
        return host in trusted or host in self.hosts

    def refusal(self, host: str, ip: IPAddress, trusted: frozenset[str]) -> str | None:
        """None when a request to ``host`` may connect to ``ip``; else the one-line reason."""
        if host in trusted or host in self.hosts:
            return None
        kind = address_kind(ip)
        if kind is None:
            return None
        inner = _unwrapped(ip)
        if any(ip in net or inner in net for net in self.networks):
            return None
        what = f"{ip} is a {kind} address" if ip_of(host) else f"{host} resolves to {ip}, a {kind} address"
        return f"refused: {what}; see fetch.allow_private"

    def literal_refusal(self, url_host: str, trusted: frozenset[str]) -> str | None:
        """The refusal for a host written as an address (in any spelling), decided before any
        connection; None for names (decided on resolution) and allowed addresses."""
        host = normalise_host(url_host)
        ip = ip_of(host)
        return None if ip is None else self.refusal(host, ip, trusted)


@contextmanager
def trusting(hosts: frozenset[str]) -> Iterator[None]:
    """Requests made inside trust these (normalised) hosts: any address they resolve to is fine."""
    token = _TRUSTED.set(hosts)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def trusted_hosts(origin: str | Iterable[str | None] | None) -> frozenset[str]:
    """The normalised hosts of the configured URLs (or host names) a request stems from."""
    if not origin:
        return frozenset()
    if isinstance(origin, str):
        return _trusted((origin,))
    return _trusted(origin if isinstance(origin, tuple | frozenset) else tuple(origin))


@lru_cache(maxsize=1024)  # sets shared by requests, not one per request (10,000 polls may wait at once)
def _trusted(urls: tuple[str | None, ...] | frozenset[str]) -> frozenset[str]:
    return frozenset(filter(None, (host_of(u) for u in urls if u)))


class GuardedResolver(AbstractResolver):
    """A resolver that keeps only the addresses the current request may connect to."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        name, trusted = normalise_host(host), _TRUSTED.get()
        if self.policy.trusts(name, trusted):
            return found
        allowed, refusals = [], []
        for entry in found:
            ip = ip_of(entry["host"].split("%", 1)[0])
            problem = "refused: unreadable address" if ip is None else self.policy.refusal(name, ip, trusted)
            if problem:
                refusals.append(problem)
            else:
                allowed.append(entry)
        if found and not allowed:
            raise AddressRefused(refusals[0])
        return allowed

    async def close(self) -> None:
        await self.inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that connects only where the current request may go (module docstring)."""

    def __init__(self, policy: AddressPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any):
        super().__init__(resolver=GuardedResolver(policy, resolver), use_dns_cache=False, **kwargs)
        self.policy = policy

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        trusted = _TRUSTED.get()
        host = normalise_host(req.url.raw_host or "")
        problem = self.policy.literal_refusal(host, trusted)
        if problem:
            raise AddressRefused(problem)
        conn = await super().connect(req, traces, timeout)
        peer = conn.transport.get_extra_info("peername") if conn.transport is not None else None
        ip = ip_of(str(peer[0]).split("%", 1)[0]) if peer else None
        problem = (
            "refused: cannot tell the peer address" if ip is None else self.policy.refusal(host, ip, trusted)
        )
        if problem:
            conn.release()  # nothing was sent on it: back to the pool for requests that may use it
            raise AddressRefused(problem)
        return conn
