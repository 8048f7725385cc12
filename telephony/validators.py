"""Phone numbers and network addresses, validated with clear messages."""

import functools
import ipaddress
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "has no valid country code (start with + and the country code, or set the default region)"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


def normalize_phone_number(value: str, *, region: str | None = None) -> str:
    """E.164 form of `value`; national numbers are read in `region` (default: the setting).

    A contact list holds many numbers that differ only in their last digits, and parsing costs
    tens of microseconds: the answer for such a number is kept by everything but its last
    TAIL_DIGITS digits (see `_PrefixCache`), which is exact where the numbering plan allows it.
    """
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    region = region or settings.PHONE_DEFAULT_REGION
    key = _prefix_cache.key(text, region)
    known = _prefix_cache.get(key) if key else None
    if known is None:
        known = _normalize(text, region)
        if key:
            _prefix_cache.put(key, text, known)
        e164, reason = known.e164, known.reason
    else:
        e164 = known.e164 and known.e164 + text[-TAIL_DIGITS:]
        reason = known.reason
    if e164 is None:
        raise ValidationError(f"'{text}' {reason}.", code="invalid_phone")
    return e164


@dataclass(frozen=True)
class _Normalized:
    e164: str | None  # None: invalid, for `reason`
    reason: str = ""
    country_code: int | None = None
    national_length: int = 0


def _normalize(text: str, region: str) -> _Normalized:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return _Normalized(
            None, _PARSE_ERRORS.get(exc.error_type, "cannot be read as a phone number")
        )
    national_length = len(phonenumbers.national_significant_number(parsed))
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or f"+{parsed.country_code}"
        return _Normalized(
            None, f"is not a valid phone number in {where}", parsed.country_code, national_length
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return _Normalized(e164, "", parsed.country_code, national_length)


TAIL_DIGITS = 3
_PLAIN_PREFIX = re.compile(r"\+?[0-9 ().\-]*")


class _PrefixCache:
    """Answers of `_normalize` kept by (region, the text but its last TAIL_DIGITS digits, its
    length), for texts of digits and plain punctuation only (no extension can hide in them).

    Exact because it is used only for country codes whose numbering plans cannot tell the last
    digits apart: every number pattern of every region sharing the code ends in at least
    TAIL_DIGITS free digits (so validity depends on the rest and the length), and the patterns
    matched from the number's start (national prefix, leading digits) are short enough to end
    before the tail. Any other number is parsed every time.
    """

    LIMIT = 50_000  # entries; emptied when full

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, int], _Normalized] = {}

    @staticmethod
    def key(text: str, region: str) -> tuple[str, str, int] | None:
        tail, head = text[-TAIL_DIGITS:], text[:-TAIL_DIGITS]
        if len(text) < 10 or not (tail.isascii() and tail.isdigit()):
            return None
        if not _PLAIN_PREFIX.fullmatch(head):
            return None
        return region, head, len(text)

    def get(self, key) -> _Normalized | None:
        return self.entries.get(key)

    def put(self, key, text: str, known: _Normalized) -> None:
        if known.country_code is None:
            return
        if known.e164 is not None and not known.e164.endswith(text[-TAIL_DIGITS:]):
            return
        reach = _prefix_reach(known.country_code, key[0])
        if reach is None or known.national_length - TAIL_DIGITS < reach:
            return
        if len(self.entries) >= self.LIMIT:
            self.entries.clear()
        stored = known.e164[:-TAIL_DIGITS] if known.e164 else None
        self.entries[key] = _Normalized(stored, known.reason)


_prefix_cache = _PrefixCache()


@functools.cache
def _prefix_reach(country_code: int, region: str) -> int | None:
    """How many leading digits of a national number the plans of `country_code` look at
    before their free tail, or None when some pattern may constrain the last TAIL_DIGITS digits.
    Every region sharing the code counts for validity (`leading_digits` and the number
    patterns); for parsing, the region the text was read in and the code's main region."""
    from phonenumbers.phonemetadata import PhoneMetadata

    reach = 0
    parsing_regions = {phonenumbers.region_code_for_country_code(country_code), region}
    for name in phonenumbers.region_codes_for_country_code(country_code):
        metadata = PhoneMetadata.metadata_for_region(name)
        if metadata is None:
            return None
        for kind in _NUMBER_TYPES:
            desc = getattr(metadata, kind, None)
            pattern = desc.national_number_pattern if desc else None
            if pattern and _free_tail(pattern) < TAIL_DIGITS:
                return None
        prefixes = [metadata.leading_digits]
        if name in parsing_regions:
            if metadata.national_prefix_transform_rule:
                return None
            prefixes.append(metadata.national_prefix_for_parsing)
        for pattern in prefixes:
            if pattern:
                widest = _widest_match(pattern)
                if widest is None:
                    return None
                reach = max(reach, widest)
    return reach


_NUMBER_TYPES = (
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
    "personal_number", "voip", "pager", "uan", "voicemail",
)  # fmt: skip


def _free_tail(pattern: str) -> int:
    """The fewest free digits (`\\d{n}`) that every alternative of `pattern` ends with."""
    try:
        return _sequence_free_tail(list(_regex_parser.parse(pattern)))
    except re.error:
        return 0


def _sequence_free_tail(items: list) -> int:
    if not items:
        return 0
    kind, value = items[-1]
    if kind == _regex_constants.MAX_REPEAT:
        low, high, repeated = value
        return low if low == high and list(repeated) == [_DIGIT] else 0
    if kind == _regex_constants.BRANCH:
        return min(_sequence_free_tail(list(branch)) for branch in value[1])
    if kind == _regex_constants.SUBPATTERN:
        return _sequence_free_tail(list(value[-1]))
    return 0


def _widest_match(pattern: str) -> int | None:
    try:
        _narrowest, high = _regex_parser.parse(pattern).getwidth()
    except re.error:
        return None
    return None if high >= _regex_constants.MAXREPEAT else high


_regex_parser = getattr(re, "_parser", None) or __import__("sre_parse")
_regex_constants = getattr(re, "_constants", None) or __import__("sre_constants")
_DIGIT = (_regex_constants.IN, [(_regex_constants.CATEGORY, _regex_constants.CATEGORY_DIGIT)])


def validate_e164(value: str) -> None:
    """A stored number must already be in E.164 form and valid."""
    if not isinstance(value, str) or not value.startswith("+"):
        raise ValidationError(
            f"'{value}' is not in E.164 form (+ and country code, e.g. +14155550100).",
            code="invalid_phone",
        )
    if normalize_phone_number(value) != value:
        raise ValidationError(
            f"'{value}' is not in E.164 form (no spaces or punctuation).", code="invalid_phone"
        )


def validate_cidr_list(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("Enter a list of IP addresses or CIDR blocks.", code="invalid")
    for item in value:
        try:
            ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            raise ValidationError(
                f"'{item}' is not an IP address or CIDR block (e.g. 54.172.60.0/30).",
                code="invalid_cidr",
            ) from None


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def sip_address_problem(address: str) -> str | None:
    """Why `address` is not a SIP trunk address (a host name or an IP literal, with an optional
    port), or None when it is one."""
    if not address or any(char.isspace() for char in address):
        return "Enter a host name or an IP address, with an optional port, and no spaces."
    host, port = address, ""
    if address.startswith("["):  # [IPv6]:port
        host, _, rest = address[1:].partition("]")
        if rest and not rest.startswith(":"):
            return f"'{address}' is not a host with an optional port."
        port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"'{host}' is not an IPv6 address."
    else:
        if address.count(":") == 1:
            host, port = address.split(":")
        elif ":" in address:
            return "Put an IPv6 address in brackets: [2001:db8::1]:5060."
        if re.fullmatch(r"[\d.]+", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                return f"'{host}' is not a possible IPv4 address."
        elif len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
            return f"'{host}' is not a valid host name."
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"'{port}' is not a port (1-65535)."
    return None
