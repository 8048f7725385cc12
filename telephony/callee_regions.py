"""Where a callee is, for the rules that depend on it (regional calling hours, public holidays):
a country, and in the US and Canada a state or province from the area code (nanp_areas.py,
generated from phonenumbers' geocoding data). A callee may name its region itself ("US-TX"),
which replaces the number's; one naming only the number's own country keeps the number's state.
Pure and cached: the same answers for as long as the process runs.
"""

import functools
import re
from dataclasses import dataclass

import holidays
import phonenumbers

from telephony.nanp_areas import AREA_SUBDIVISIONS

_REGION_CODE = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
_SUBDIVIDED = ("US", "CA")  # countries whose area codes name a state or province


class RegionError(ValueError):
    """A region code that cannot be right (its message is a sentence naming it)."""


@dataclass(frozen=True, order=True)
class Region:
    country: str  # ISO 3166-1 alpha-2, e.g. "US"
    subdivision: str = ""  # ISO 3166-2 suffix, e.g. "TX"; empty: the country as a whole

    @property
    def code(self) -> str:
        return f"{self.country}-{self.subdivision}" if self.subdivision else self.country

    def __str__(self) -> str:
        return self.code


def parse_region(code: str) -> Region:
    """'US-TX' or 'US' (any case) as a Region; RegionError names what is wrong."""
    match = _REGION_CODE.match(code.strip().upper())
    if not match:
        raise RegionError(
            f"{code!r} is not a region code: use a country code with an optional state or "
            "province, such as US, US-TX or CA-ON."
        )
    country, subdivision = match.group(1), match.group(2) or ""
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise RegionError(f"{country!r} is not a country code (ISO 3166, such as US or CA).")
    known = _subdivisions(country)
    if subdivision and known is not None and subdivision not in known:
        raise RegionError(f"{subdivision!r} is not a state or province of {country}.")
    return Region(country, subdivision)


@functools.lru_cache(maxsize=512)
def _subdivisions(country: str) -> frozenset[str] | None:
    """The subdivisions `holidays` knows for the country (None: it does not know the country)."""
    try:
        return frozenset(holidays.country_holidays(country).subdivisions)
    except NotImplementedError:
        return None


@functools.lru_cache(maxsize=65_536)
def number_region(phone: str) -> Region | None:
    """The number's country, and in the US and Canada its area code's state or province
    (None: the number cannot be read)."""
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(parsed)
    if not country or country == "001":  # "001": non-geographic numbers
        return None
    if country not in _SUBDIVIDED:
        return Region(country)
    area = phonenumbers.national_significant_number(parsed)[:3]
    return Region(country, AREA_SUBDIVISIONS.get(area, ""))


def callee_region(phone: str, explicit: str = "") -> Region | None:
    """The callee's region: its explicit one, else its number's. An explicit country without a
    state keeps the number's state when the number is of that country (a rule can only narrow);
    an explicit region that no longer reads (stored before a rename) counts as not given."""
    from_number = number_region(phone)
    if not explicit:
        return from_number
    try:
        given = parse_region(explicit)
    except RegionError:
        return from_number
    if not given.subdivision and from_number is not None and from_number.country == given.country:
        return from_number
    return given
