"""Keep secrets out of logs and exception messages.

Two complementary mechanisms:

* key-based: ``redact()`` blanks every value whose *key* names a secret (``password``,
  ``rtc_token``, ``customer_secret``...), so structured data can be logged safely. It is the one
  masker: logs and API event payloads show ``REDACTED``, admin pages and API answers ``MASK``;
* value-based: ``scrub()`` removes every *value* registered with ``register_secret()`` plus
  anything shaped like a credential (``Basic ...``, ``Bearer ...``, ``agora token=...``,
  Agora RTC tokens), wherever it appears in free text.

This module is imported by the telephony client and by Django's LOGGING config, so it must
not import Django.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = [
    "MASK",
    "REDACTED",
    "SECRET_KEY_PATTERN",
    "RedactingFilter",
    "is_secret_key",
    "redact",
    "register_secret",
    "scrub",
]

REDACTED = "[REDACTED]"
# How a page (the admin, an API answer) shows a stored secret.
MASK = "********"

# Shorter values would match ordinary words and digits all over the logs.
MIN_SECRET_LENGTH = 6
# Per-call secrets (RTC tokens) are registered as ephemeral and kept in a bounded LRU so a
# long-running worker does not accumulate them forever; the shape pattern for Agora tokens
# still catches evicted ones.
MAX_EPHEMERAL_SECRETS = 512

# Matched with .search() against a key name, case-insensitively. "token" only counts as the
# last word ("rtc_token", "access-token") so "token_ttl" or "max_tokens" are not blanked;
# "key" only on its own, so "pipeline_id" or "cache_key"-like names survive.
SECRET_KEY_PATTERN = re.compile(
    r"""
    password | passwd | passphrase | secret | credential | certificate | authorization
    | api[_-]?key | access[_-]?key | private[_-]?key | signing[_-]?key | cookie
    | (?:^|[_\-.\s])(?:token|pwd|pass)$
    | ^(?:token|key|pwd|pass)$
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Credential shapes that must never survive, registered or not. Each keeps the scheme word so a
# reader can still tell which kind of credential was removed.
_SHAPE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Header dumps: "Authorization: Digest abc", "'authorization': 'xyz'".
    (
        re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)[^"'\r\n,;}]+"""),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/]{8,}={0,2}"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + REDACTED),
    (re.compile(r"""(?i)\b(agora\s+token=)[^\s"',;]+"""), r"\1" + REDACTED),
    # AccessToken (006) and AccessToken2 (007): version prefix + app id + base64 payload.
    (re.compile(r"(?<![A-Za-z0-9])00[67][A-Za-z0-9+/_=\-]{40,}"), REDACTED),
)

_lock = threading.Lock()
_permanent: set[str] = set()
_ephemeral: OrderedDict[str, None] = OrderedDict()
# Longest first, so a secret containing another one is replaced whole. Rebuilt lazily.
_snapshot: tuple[str, ...] = ()
_dirty = False


def is_secret_key(key: object) -> bool:
    """True when a mapping key names a value that must not be logged."""
    return isinstance(key, str) and SECRET_KEY_PATTERN.search(key) is not None


def _variants(value: str) -> Iterable[str]:
    # The same secret also shows up JSON-escaped (request bodies) and URL-encoded (SIP URIs).
    yield value
    yield json.dumps(value)[1:-1]
    yield quote(value, safe="")


def register_secret(value: str | None, *, ephemeral: bool = False) -> None:
    """Remember a secret value so ``scrub()`` removes it from any text, process-wide.

    Use ``ephemeral=True`` for per-call values (tokens) so the registry stays bounded.
    """
    global _dirty
    if not value or not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        for variant in _variants(value):
            if len(variant) < MIN_SECRET_LENGTH or variant in _permanent:
                continue
            if ephemeral:
                if variant in _ephemeral:
                    _ephemeral.move_to_end(variant)
                    continue
                _ephemeral[variant] = None
                while len(_ephemeral) > MAX_EPHEMERAL_SECRETS:
                    _ephemeral.popitem(last=False)
            else:
                _permanent.add(variant)
                _ephemeral.pop(variant, None)
            _dirty = True


def _registered() -> tuple[str, ...]:
    # A plain substring scan, not one big regex: tokens are registered on every call and
    # recompiling a regex of hundreds of alternatives each time costs far more than scanning.
    global _snapshot, _dirty
    with _lock:
        if _dirty:
            _snapshot = tuple(sorted({*_permanent, *_ephemeral}, key=len, reverse=True))
            _dirty = False
        return _snapshot


def scrub(text: str) -> str:
    """Return ``text`` with registered secrets and credential-shaped strings replaced."""
    if not text or not isinstance(text, str):
        return text
    for secret in _registered():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for shape, replacement in _SHAPE_PATTERNS:
        text = shape.sub(replacement, text)
    return text


def redact(
    value: Any, *, mask: str = REDACTED, keep_blank: bool = False, scrub_text: bool = True
) -> Any:
    """Deep-copy dicts/lists/tuples, replacing the value of every secret-named key by ``mask``.

    ``None`` is left as it is, and with ``keep_blank`` an empty string too (a form then shows an
    empty secret as empty, not as one that could be kept). ``scrub_text`` scrubs every other
    string; turn it off only for a copy that comes back to be stored as sent (the agent
    properties the admin form and the API show and take back).
    """
    if isinstance(value, str):
        return scrub(value) if scrub_text else value
    options = {"mask": mask, "keep_blank": keep_blank, "scrub_text": scrub_text}
    if isinstance(value, dict):
        return {
            key: (
                mask
                if is_secret_key(key) and not (item is None or (keep_blank and item == ""))
                else redact(item, **options)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, **options) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item, **options) for item in value)
    return value


def _formatted_message(record: logging.LogRecord) -> str:
    # Secret-keyed values inside structured arguments are blanked before formatting; the whole
    # message is then scrubbed at once, so a credential split between the format string and an
    # argument ("Basic %s", value) is still recognised.
    msg = record.msg if isinstance(record.msg, str) else str(redact(record.msg))
    args = record.args
    if isinstance(args, dict):
        args = redact(args)
    elif isinstance(args, tuple):
        args = tuple(redact(arg) if isinstance(arg, dict | list | tuple) else arg for arg in args)
    if not args:
        return msg
    try:
        return msg % args
    except (TypeError, ValueError, KeyError):
        return f"{msg} {args!r}"


class RedactingFilter(logging.Filter):
    """Logging filter that scrubs secrets from a record's message, arguments and traceback.

    Attach it to handlers, e.g. ``{"()": "contactcenter.redaction.RedactingFilter"}``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = scrub(_formatted_message(record))
            record.args = None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text when set, so the scrubbed traceback is what's emitted.
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text)
            if record.stack_info:
                record.stack_info = scrub(record.stack_info)
        except Exception:
            # Fail closed: better to lose one message than to leak a secret or break logging.
            record.msg = "[log message dropped: redaction failed]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
