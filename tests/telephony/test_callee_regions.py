"""Where a callee is: telephony/callee_regions.py and its area-code table (nanp_areas.py)."""

import re
from collections import Counter

import holidays
import phonenumbers
import pytest

from telephony.callee_regions import Region, callee_region, number_region
from telephony.nanp_areas import AREA_SUBDIVISIONS

_CITY_AND_CODE = re.compile(r", ([A-Z]{2})$")
_NAME_FIXES = {"British Colombia": "BC", "Washington D.C.": "DC", "Washington State": "WA"}


def generated_area_subdivisions() -> dict[str, str]:
    """The table from phonenumbers' geocoding data: the area code's own entry (a state or
    province name, or "City, ST"), else the code most of its longer prefixes name (none when
    another has more than a fifth as many: a shared area code). US and Canadian codes only."""
    from phonenumbers.geodata import GEOCODE_DATA  # ~100 MB: read here, never in the app

    aliases = {
        **dict(holidays.US.subdivisions_aliases),
        **dict(holidays.CA.subdivisions_aliases),
        **_NAME_FIXES,
    }

    def code(name: str) -> str:
        in_name = _CITY_AND_CODE.search(name)
        return in_name.group(1) if in_name else aliases.get(name, "")

    by_area: dict[str, Counter] = {}
    for key, names in GEOCODE_DATA.items():
        if key.startswith("1") and len(key) > 4 and code(names.get("en", "")):
            by_area.setdefault(key[1:4], Counter())[code(names["en"])] += 1
    table = {}
    for area in (str(number) for number in range(200, 1000)):
        country = phonenumbers.region_code_for_number(phonenumbers.parse(f"+1{area}2345678"))
        if country not in ("US", "CA"):
            continue
        own = code(GEOCODE_DATA.get(f"1{area}", {}).get("en", ""))
        votes = by_area.get(area, Counter()).most_common(2)
        if own:
            table[area] = own
        elif votes and (len(votes) == 1 or votes[1][1] * 5 <= votes[0][1]):
            table[area] = votes[0][0]
    return table


def test_the_area_code_table_agrees_with_phonenumbers():
    generated = generated_area_subdivisions()
    if generated != AREA_SUBDIVISIONS:
        items = sorted(generated.items())
        rows = [
            "    " + " ".join(f'"{a}": "{s}",' for a, s in items[i : i + 7])
            for i in range(0, len(items), 7)
        ]
        pytest.fail(
            "phonenumbers' data changed: replace AREA_SUBDIVISIONS in telephony/nanp_areas.py "
            "with:\n" + "\n".join(rows)
        )


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+14155550150", "US-CA"),
        ("+12125550150", "US-NY"),
        ("+17135550150", "US-TX"),  # Houston: only longer prefixes in the data
        ("+12035550150", "US-CT"),
        ("+13105550150", "US-CA"),
        ("+19055550150", "CA-ON"),
        ("+18675550150", "CA"),  # three territories share it: the country's rules only
        ("+17875550150", "PR"),
        ("+442071234567", "GB"),
    ],
)
def test_a_numbers_region_comes_from_its_area_code(phone, region):
    assert number_region(phone).code == region


def test_an_explicit_region_of_the_same_country_without_a_state_keeps_the_numbers_state():
    assert callee_region("+12145550150", "US") == Region("US", "TX")
    assert callee_region("+12145550150", "US-LA") == Region("US", "LA")
    assert callee_region("+12145550150", "GB") == Region("GB")
