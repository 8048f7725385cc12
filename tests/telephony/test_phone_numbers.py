"""Phone number normalisation (telephony.validators): the answers kept by prefix are exact."""

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony import validators
from telephony.validators import normalize_phone_number


def answer(text: str, region: str) -> str:
    try:
        return normalize_phone_number(text, region=region)
    except ValidationError as error:
        return error.messages[0]


def parsed_afresh(text: str, region: str) -> str:
    known = validators._normalize(text.strip(), region)
    return known.e164 or f"'{text.strip()}' {known.reason}."


@pytest.fixture
def empty_cache():
    validators._prefix_cache.entries.clear()
    yield validators._prefix_cache
    validators._prefix_cache.entries.clear()


def test_numbers_sharing_all_but_their_last_digits_are_parsed_once(empty_cache):
    # when: a thousand numbers of one exchange, in two spellings
    numbers = [f"+1415555{index:04d}" for index in range(1000)]
    e164 = [normalize_phone_number(number, region="US") for number in numbers]
    formatted = normalize_phone_number("(415) 555-0123", region="US")

    # then: right answers, from a handful of parses
    assert e164 == numbers
    assert formatted == "+14155550123"
    assert len(empty_cache.entries) == 2  # "+14155550" and "(415) 555-0"


def test_a_code_whose_plan_looks_at_the_last_digits_is_never_cached(empty_cache):
    # Argentina's national prefix rule reaches deep into the number; Brazil's rewrites it.
    for text, region in (("011 15 2345-6789", "AR"), ("+55 11 96123-4567", "BR")):
        assert answer(text, region) == parsed_afresh(text, region)
    assert empty_cache.entries == {}
    assert validators._prefix_reach(54, "AR") is None
    assert validators._prefix_reach(55, "BR") is None
    assert validators._prefix_reach(1, "US") == 4


def test_an_invalid_number_gets_the_same_message_from_the_cache(empty_cache):
    first = answer("+1 415 099 0000", "US")
    second = answer("+1 415 099 0001", "US")  # same prefix: from the cache
    assert first == "'+1 415 099 0000' is not a valid phone number in +1."
    assert second == "'+1 415 099 0001' is not a valid phone number in +1."
    assert len(empty_cache.entries) == 1


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
NANP_AREAS = [201, 246, 268, 345, 415, 500, 521, 658, 787, 800, 876, 900, 939]


@st.composite
def numbers_with_shared_prefixes(draw):
    """A region, then several texts that differ only in their last digits."""
    region = draw(st.sampled_from([*REGIONS, "US", "US", "CA", "JM"]))
    if draw(st.booleans()):
        area = draw(st.sampled_from(NANP_AREAS))
        head = f"+1{area}{draw(st.integers(0, 999)):03d}"
        head = draw(st.sampled_from([head, head[2:], f"({head[2:5]}) {head[5:]}-"]))
    else:
        example = phonenumbers.example_number(draw(st.sampled_from(REGIONS)))
        digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        digits = digits[: draw(st.integers(4, len(digits) - 3))]
        head = digits if draw(st.booleans()) else digits[1:]
    tails = draw(st.lists(st.integers(0, 999), min_size=2, max_size=6))  # one shared prefix
    return region, [f"{head}{tail:04d}" for tail in tails]


@settings(max_examples=400, deadline=None)
@given(case=numbers_with_shared_prefixes())
def test_the_cache_never_changes_an_answer(case):
    # Every region's plan, national and international spellings, valid and invalid numbers.
    region, texts = case
    validators._prefix_cache.entries.clear()
    for text in texts:
        assert answer(text, region) == parsed_afresh(text, region)
