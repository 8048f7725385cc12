"""Where a callee is, for the rules that depend on it (regional calling hours, public holidays):
a country, and in the North American numbering plan a state or province from the area code.

The area code's place comes from phonenumbers' geocoding data (the entry for "1" + area code:
a state or province name, sometimes "City, ST"); names are turned into codes with the
`holidays` package's own aliases, so a region here is one the holiday calendars know. A contact
may name its region itself ("US-TX"), which replaces the number's. Pure and cached: the same
answers for as long as the process runs.
"""

import functools
import re
from dataclasses import dataclass

import holidays
import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA

_REGION_CODE = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
_CITY_AND_CODE = re.compile(r", ([A-Z]{2})$")
# Geocoding names the aliases do not know (spellings of the data itself). An area code shared
# by several provinces (867, 902) names no single one: only the country's rules apply there.
_NAME_FIXES = {"British Colombia": "BC", "Washington D.C.": "DC", "Washington State": "WA"}
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


@functools.lru_cache(maxsize=1024)
def _area_subdivisions(country: str) -> dict[str, str]:
    aliases = getattr(holidays.country_holidays(country), "subdivisions_aliases", {})
    return {**aliases, **_NAME_FIXES}


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
    name = GEOCODE_DATA.get(f"1{area}", {}).get("en", "")
    in_name = _CITY_AND_CODE.search(name)
    subdivision = in_name.group(1) if in_name else _area_subdivisions(country).get(name, "")
    return Region(country, subdivision)


def callee_region(phone: str, explicit: str = "") -> Region | None:
    """The callee's region: its explicit one (as stored, already checked), else its number's."""
    if explicit:
        try:
            return parse_region(explicit)
        except RegionError:
            return number_region(phone)
    return number_region(phone)
