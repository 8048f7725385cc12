"""Where calls may go (toll-fraud protection): a country allow-list and a refusal of number types
that cost the caller money or hide where a call ends up.

Pure functions over phonenumbers' metadata, like windows.py: every call, single or campaign, is
checked here before it is queued and again right before it is dialed (services/dialing_rules).
"""

import functools

import phonenumbers
from phonenumbers import PhoneNumberType

# Refused whatever the country: premium-rate and shared-cost numbers bill the caller; personal
# ("follow-me") and universal-access numbers forward to anywhere at the caller's expense; pagers
# and voicemail access numbers reach no person; and a number phonenumbers cannot classify cannot
# be shown to be none of these.
REFUSED_NUMBER_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.UAN: "a universal access number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.UNKNOWN: "a number of unknown type",
}


def number_country(e164: str) -> str:
    """The ISO 3166 region of a number ("US", "JM", ...; "" when unknown)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def destination_problem(e164: str, *, allowed_countries: frozenset[str]) -> str | None:
    """Why `e164` may not be called, or None. `allowed_countries` holds ISO 3166 codes."""
    problem, country = _classified(e164)
    if problem:
        return problem
    if country not in allowed_countries:
        allowed = ", ".join(sorted(allowed_countries)) or "none"
        return (
            f"{e164} is in {country or 'an unknown country'}, which calls may not go to "
            f"(allowed: {allowed}; see CALL_ALLOWED_COUNTRIES)"
        )
    return None


@functools.lru_cache(maxsize=65_536)
def _classified(e164: str) -> tuple[str | None, str]:
    """(why a number is never called, or None; its country): the same for the same number as
    long as the process runs (phonenumbers' metadata), and asked of every call several times."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return f"{e164} cannot be read as a phone number", ""
    refused_type = REFUSED_NUMBER_TYPES.get(phonenumbers.number_type(parsed))
    if refused_type:
        return (
            f"{e164} is {refused_type}: such numbers are never called (toll-fraud protection)",
            "",
        )
    return None, phonenumbers.region_code_for_number(parsed) or ""
