"""The address of the client behind a request, as far as it can be trusted.

Used wherever an address is counted against a limit (login lockouts through django-axes,
failed API-key authentication). Directly exposed (the default), it is the connection's own
address, REMOTE_ADDR. Behind our TLS proxy (BEHIND_TLS_PROXY), REMOTE_ADDR is the proxy's, and
each proxy appends the address it saw to X-Forwarded-For: the client's is the entry
TRUSTED_PROXY_COUNT places from the right. Entries further left were sent by the client itself
and are never used (anyone could name any address there).
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or ""
    if settings.BEHIND_TLS_PROXY:
        forwarded = [
            part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
        ]
        # Fewer entries than proxies: the header did not come through all of ours; the
        # leftmost entry would then be the client's own claim.
        if len(forwarded) >= settings.TRUSTED_PROXY_COUNT:
            found = _address(forwarded[-settings.TRUSTED_PROXY_COUNT])
            if found:
                return found
    return _address(remote)  # None when there is none (e.g. a request made up in a test)
