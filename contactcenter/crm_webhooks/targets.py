"""Where CRM webhooks may go, and a connection to exactly the address that was checked.

A subscription's URL is given by whoever holds an API key, so it must not reach inside our own
network (SSRF): loopback, private, link-local, shared, reserved, multicast and cloud metadata
addresses are refused, IPv4 and IPv6 alike, including IPv6 forms that carry an IPv4 address
(IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`). The host is resolved
and EVERY address it resolves to must be allowed (a name that answers public and private
addresses is refused). Only ports in `OUTBOUND_WEBHOOK_ALLOWED_PORTS` (80, 443), only https
unless `OUTBOUND_WEBHOOK_ALLOW_HTTP` (default: DEBUG), never credentials in the URL.
`OUTBOUND_WEBHOOK_ALLOWED_NETWORKS` opens chosen networks (an on-premises CRM); the unspecified,
multicast and metadata addresses stay closed even there.

The same check runs when a subscription is saved (`validate_webhook_url`, a model field
validator, so the admin and the API both go through it) and again before every delivery
(`target_check`). The delivery then connects to the checked address itself (`target_post`), not
to whatever the name resolves to a moment later (DNS rebinding); the request keeps the name in
its `Host` header, and TLS checks the certificate against the name (httpx's `sni_hostname`).
"""

import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services. Most are link-local or private anyway; these are refused
# even inside an allowed network, and those that look global (Azure, Oracle) are listed here.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS (IPv6)
        "168.63.129.16",  # Azure wire server
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL may not be a webhook destination; the message says why (and is ours to show)."""


class TargetUnresolved(Exception):
    """The host name does not resolve (now): a creation is refused, a delivery retried."""


@dataclass(frozen=True)
class Target:
    """A destination that passed the check: the URL as given and the address to connect to."""

    url: httpx.URL
    addresses: tuple[str, ...]  # every address the name had, each one checked

    @property
    def address(self) -> str:
        return self.addresses[0]

    def connect_url(self, address: str) -> httpx.URL:
        return self.url.copy_with(host=address)

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")

    @property
    def server_name(self) -> str:
        return self.url.raw_host.decode("ascii")


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (one place, so that tests can stand in for DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def allowed_networks() -> tuple[IPNetwork, ...]:
    return _networks(tuple(settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS))


def _destinations(address: IPAddress) -> list[IPAddress]:
    """The addresses packets to `address` end at: itself, or the IPv4 address an IPv6 form
    carries (IPv4-mapped: the socket speaks IPv4 to it; NAT64: a gateway translates to it;
    6to4: a relay tunnels to it, so both count)."""
    if address.version == 4:
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64_PREFIX:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address, address.sixtofour]
    return [address]


def _class_refusal(address: IPAddress) -> str | None:
    """Why an address is not on the public internet, or None."""
    # Order matters only for the message: the most telling name first.
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.version == 6 and address.is_site_local:
        return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not public"
    return None


def address_refusal(text: str, *, networks: tuple[IPNetwork, ...] | None = None) -> str | None:
    """Why connecting to this address is refused (e.g. "a private address"), or None."""
    # A zone index (fe80::1%eth0) only says which interface; the address decides.
    destinations = _destinations(ipaddress.ip_address(text.split("%", 1)[0]))
    for destination in destinations:
        # Never a receiver, whatever the allowed networks say.
        if destination in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if destination.is_unspecified:
            return "an unspecified address"
        if destination.is_multicast:
            return "a multicast address"
    networks = allowed_networks() if networks is None else networks
    for destination in destinations:
        if any(destination in network for network in networks):
            continue  # opened by the operator (e.g. an on-premises CRM)
        if reason := _class_refusal(destination):
            return reason
    return None


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise TargetRefused("Enter a valid URL.") from error
    if parsed.scheme not in DEFAULT_PORTS or not parsed.raw_host:
        raise TargetRefused("Enter an http:// or https:// URL with a host.")
    if parsed.userinfo:
        raise TargetRefused(
            "Do not put credentials (user:password@) in the URL: each request is signed instead."
        )
    if parsed.scheme == "http" and not settings.OUTBOUND_WEBHOOK_ALLOW_HTTP:
        raise TargetRefused("Use an https:// URL: plain http is not allowed here.")
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    allowed_ports = sorted(set(settings.OUTBOUND_WEBHOOK_ALLOWED_PORTS))
    if port not in allowed_ports:
        raise TargetRefused(
            f"Port {port} is not allowed: use port {' or '.join(map(str, allowed_ports))}."
        )
    return parsed


def target_check(url: str) -> Target:
    """Check a webhook URL and resolve its host now: the Target to connect to.

    Raises TargetRefused (never allowed: fix the URL) or TargetUnresolved (the name does not
    resolve at the moment).
    """
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError
        raise TargetUnresolved("The host name could not be resolved.") from error
    if not addresses:
        raise TargetUnresolved("The host name could not be resolved.")
    networks = allowed_networks()
    for address in addresses:
        if reason := address_refusal(address, networks=networks):
            # The address itself is for the operator's log only: telling the caller which
            # internal address a name has would map our network for them.
            logger.warning("webhook target %s refused: %s is %s", host, address, reason)
            raise TargetRefused(
                f"The host resolves to {reason}: webhooks may only go to public addresses."
            )
    return Target(url=parsed, addresses=tuple(addresses))


def validate_webhook_url(value: str) -> None:
    """Model field validator: the URL is an allowed destination now (see the module)."""
    try:
        target_check(value)
    except (TargetRefused, TargetUnresolved) as error:
        raise ValidationError(str(error), code="webhook_target") from error


def target_post(
    target: Target,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: httpx.Timeout,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """POST to the checked address and return the status code; the body is never read.

    No redirects, no proxies or .netrc from the environment (a proxy would resolve the name
    again itself); TLS verifies the certificate against the URL's host name (`verify`: the
    default CAs, or a context, e.g. one trusting a test CA).
    """
    extensions = {"sni_hostname": target.server_name} if target.url.scheme == "https" else {}
    client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=verify)
    with client:
        for number, address in enumerate(target.addresses, start=1):
            try:
                with client.stream(
                    "POST",
                    target.connect_url(address),
                    content=content,
                    headers={**headers, "Host": target.host_header},
                    extensions=extensions,
                ) as response:
                    return response.status_code
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Nothing was sent: the next checked address of the name (a dual-stack
                # receiver seen from an IPv4-only worker, one of several hosts down).
                if number == len(target.addresses):
                    raise
    raise AssertionError("a checked target has at least one address")
