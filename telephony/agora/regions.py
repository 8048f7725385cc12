"""Regional API hosts, in the order the client tries them.

Each area has two regional prefixes and two domains; the preferred domain comes first so the
fallback domain is only reached after both regions failed on the preferred one.
"""

from __future__ import annotations

__all__ = ["AREAS", "CN_PATH_SUFFIX", "PATH_SUFFIX", "base_urls"]

PATH_SUFFIX = "/api/conversational-ai-agent"
CN_PATH_SUFFIX = "/cn/api/conversational-ai-agent"

_PREFIXES: dict[str, tuple[str, str]] = {
    "US": ("api-us-west-1", "api-us-east-1"),
    "EU": ("api-eu-west-1", "api-eu-central-1"),
    "AP": ("api-ap-southeast-1", "api-ap-northeast-1"),
    "CN": ("api-cn-east-1", "api-cn-north-1"),
}
_GLOBAL_DOMAINS = ("agora.io", "sd-rtn.com")
_DOMAINS: dict[str, tuple[str, str]] = {
    "US": _GLOBAL_DOMAINS,
    "EU": _GLOBAL_DOMAINS,
    "AP": _GLOBAL_DOMAINS,
    "CN": ("sd-rtn.com", "agora.io"),
}
AREAS = frozenset(_PREFIXES)


def base_urls(area: str, override: str | None = None) -> list[str]:
    """Base URLs (scheme, host and API path prefix) to try, best first.

    ``override`` (a local simulator, a proxy) replaces the whole list. The API path suffix is
    appended unless the URL already ends with it, so both ``http://127.0.0.1:8900`` and
    ``http://127.0.0.1:8900/api/conversational-ai-agent`` work.
    """
    key = (area or "").strip().upper()
    if key not in _PREFIXES:
        raise ValueError(f"area: unknown Agora area {area!r}; expected one of {sorted(AREAS)}")
    if override:
        url = override.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: must start with http:// or https://, got {override!r}")
        if not url.endswith((PATH_SUFFIX, CN_PATH_SUFFIX)):
            url += PATH_SUFFIX
        return [url]
    suffix = CN_PATH_SUFFIX if key == "CN" else PATH_SUFFIX
    return [
        f"https://{prefix}.{domain}{suffix}"
        for domain in _DOMAINS[key]
        for prefix in _PREFIXES[key]
    ]
