"""contactcenter.crm_webhooks.targets: which destinations are allowed, and a connection to exactly
the address that was checked (TLS against the name). Entry points: test_webhook_destinations."""

import ssl

import httpx
import pytest
import trustme

from contactcenter.crm_webhooks.targets import (
    TargetRefused,
    address_refusal,
    target_check,
    target_post,
)

PUBLIC_ADDRESS = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [PUBLIC_ADDRESS, "2606:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"],
    ids=["ipv4", "ipv6", "nat64-of-public", "6to4-of-public"],
)
def test_public_addresses_are_allowed(address):
    assert address_refusal(address, networks=()) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),  # Azure: looks global
        ("192.0.0.192", "a cloud metadata address"),  # Oracle: looks global
        ("fe80::1%eth0", "a link-local address"),
        ("fec0::1", "a site-local address"),
        ("224.0.1.1", "a multicast address"),  # multicast that counts as "global"
        ("255.255.255.255", "a reserved address"),
        ("198.18.0.1", "a private address"),  # benchmarking
        ("192.0.2.1", "a private address"),  # documentation
        ("::ffff:10.0.0.1", "a private address"),
        ("::7f00:1", "a reserved address"),  # IPv4-compatible, deprecated
        ("64:ff9b::7f00:1", "a loopback address"),
        ("2001::1", "a private address"),  # Teredo
    ],
)
def test_internal_addresses_are_refused(address, reason):
    assert address_refusal(address, networks=()) == reason


def test_allowed_networks_open_internal_addresses_but_never_metadata(settings):
    settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "169.254.0.0/16", "::/0"]

    assert address_refusal("10.20.3.4") is None
    assert address_refusal("::ffff:10.20.3.4") is None
    assert address_refusal("10.21.0.1") == "a private address"
    assert address_refusal("169.254.169.254") == "a cloud metadata address"
    assert address_refusal("::") == "an unspecified address"
    assert address_refusal("ff02::1") == "a multicast address"


@pytest.mark.parametrize(
    "url",
    ["https://127.1/hooks", "https://0x7f000001/hooks", "https://2130706433/hooks"],
)
def test_other_spellings_of_loopback_are_refused(url):
    with pytest.raises(TargetRefused, match="a loopback address"):
        target_check(url)


def test_ports_and_plain_http_follow_the_settings(settings):
    settings.OUTBOUND_WEBHOOK_ALLOWED_PORTS = [443, 8443]
    settings.OUTBOUND_WEBHOOK_ALLOW_HTTP = True

    assert target_check(f"https://{PUBLIC_ADDRESS}:8443/hooks").address == PUBLIC_ADDRESS
    with pytest.raises(TargetRefused, match="Port 80 is not allowed: use port 443 or 8443"):
        target_check(f"http://{PUBLIC_ADDRESS}/hooks")  # http's own port
    settings.OUTBOUND_WEBHOOK_ALLOWED_PORTS = [80, 443]
    assert target_check(f"http://{PUBLIC_ADDRESS}/hooks").address == PUBLIC_ADDRESS
    settings.OUTBOUND_WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(TargetRefused, match="Use an https:// URL"):
        target_check(f"http://{PUBLIC_ADDRESS}/hooks")


def test_the_reason_never_names_the_internal_address(fake_dns):
    fake_dns["intranet.example"] = ["10.1.2.3"]
    with pytest.raises(TargetRefused) as refused:
        target_check("https://intranet.example/hooks")
    assert "10.1.2.3" not in str(refused.value)


# -- connecting -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def _tls_receiver(local_servers, tls_ca, certificate_name: str):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(certificate_name).configure_cert(context)
    server_names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    return local_servers(b"HTTP/1.1 204 No Content\r\n\r\n", ssl_context=context), server_names


def _client_context(tls_ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


def test_tls_checks_the_certificate_against_the_name_at_the_checked_address(
    fake_dns, local_servers, open_to_this_machine, tls_ca
):
    receiver, server_names = _tls_receiver(local_servers, tls_ca, "crm.test")
    open_to_this_machine(receiver.port)
    fake_dns["crm.test"] = ["127.0.0.1"]
    target = target_check(f"https://crm.test:{receiver.port}/hooks")

    status = target_post(
        target, content=b"{}", headers={}, timeout=httpx.Timeout(5), verify=_client_context(tls_ca)
    )

    assert status == 204
    assert target.connect_url(target.address).host == "127.0.0.1"
    assert server_names == ["crm.test"]  # SNI: the name, not the address
    assert receiver.header(0, "Host") == f"crm.test:{receiver.port}"


def test_an_address_that_refuses_the_connection_gives_way_to_the_next(
    fake_dns, local_servers, open_to_this_machine, settings
):
    receiver = local_servers(b"HTTP/1.1 204 No Content\r\n\r\n")
    open_to_this_machine(receiver.port)
    settings.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/24"]
    fake_dns["crm.test"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens on the first
    target = target_check(f"http://crm.test:{receiver.port}/hooks")

    status = target_post(target, content=b"{}", headers={}, timeout=httpx.Timeout(5))

    assert status == 204
    assert receiver.header(0, "Host") == f"crm.test:{receiver.port}"


def test_tls_refuses_a_certificate_for_another_name(
    fake_dns, local_servers, open_to_this_machine, tls_ca
):
    receiver, _ = _tls_receiver(local_servers, tls_ca, "other.test")
    open_to_this_machine(receiver.port)
    fake_dns["crm.test"] = ["127.0.0.1"]
    target = target_check(f"https://crm.test:{receiver.port}/hooks")

    with pytest.raises(httpx.ConnectError):
        target_post(
            target,
            content=b"{}",
            headers={},
            timeout=httpx.Timeout(5),
            verify=_client_context(tls_ca),
        )
    assert receiver.requests == []
