"""Phone numbers and network addresses, validated with clear messages."""

import ipaddress

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
