"""Phone numbers and network addresses, validated with clear messages."""

import ipaddress
import re

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
    """E.164 form of `value`; national numbers are read in `region` (default: the setting)."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    region = region or settings.PHONE_DEFAULT_REGION
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_ERRORS.get(exc.error_type, "cannot be read as a phone number")
        raise ValidationError(f"'{text}' {reason}.", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or f"+{parsed.country_code}"
        raise ValidationError(
            f"'{text}' is not a valid phone number in {where}.", code="invalid_phone"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


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
