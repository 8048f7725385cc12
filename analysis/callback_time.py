"""When a callee asks to be called back: the instant their words name, in their own time zone.

Phone speech names a day and a clock time separately ("next Tuesday at 11", "mañana a las cinco
de la tarde", "this evening at 6", "in two hours"); general date parsers read such phrases
poorly (a bare "at 11" or "cinco de la tarde" is lost), so the day, the clock time and relative
offsets are read here, in English and Spanish, with `dateparser` as the fallback for anything
else (ISO dates, "December 3 at 4 pm"). Pure functions, no Django.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

HOURS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}  # fmt: skip
# Amounts in "in two hours", "en media hora", "in an hour".
NUMBERS = {
    **HOURS, "half an": 0.5, "a couple of": 2, "an": 1, "a": 1, "un": 1, "uno": 1,
    "media": 0.5,
}  # fmt: skip
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4,
    "sabado": 5, "domingo": 6,
}  # fmt: skip
NUMBER_WORD = "|".join(sorted((re.escape(word) for word in NUMBERS), key=len, reverse=True))
HOUR_WORD = "|".join(sorted((re.escape(word) for word in HOURS), key=len, reverse=True))
HOUR = rf"(\d{{1,2}}(?::\d{{2}})?|{HOUR_WORD})"

RELATIVE = re.compile(
    rf"\b(?:in|en|dentro de)\s+({NUMBER_WORD}|\d+)\s+(hours?|horas?|minutes?|minutos?|mins?)\b"
)
# Clock times: "at 3 pm", "3:30 p.m.", "a las cinco y media de la tarde", "at noon".
CLOCK = re.compile(
    rf"\b(?:at|around|about|a las|sobre las|hacia las|a la)?\s*{HOUR}"
    r"(?:\s*(y media|y cuarto|thirty|fifteen))?"
    r"\s*(a\.?\s?m\.?|p\.?\s?m\.?|o'?clock|de la manana|de la tarde|de la noche|in the morning|"
    r"in the afternoon|in the evening|at night)?\b"
)
NOON = re.compile(r"\b(noon|midday|mediodia)\b")
DAY_PART = re.compile(
    r"\b(this morning|this afternoon|this evening|tonight|esta manana|esta tarde|esta noche|"
    r"morning|afternoon|evening|por la manana|por la tarde|por la noche)\b"
)
TODAY = re.compile(
    r"\b(today|hoy|this (?:morning|afternoon|evening)|tonight|esta (?:tarde|noche))\b"
)
TOMORROW = re.compile(r"\b(tomorrow|pasado manana|(?<!la )manana)\b")
WEEKDAY = re.compile(
    r"\b(?:(next|this|coming|el proximo|el|este|proximo)\s+)?(" + "|".join(WEEKDAYS) + r")\b"
)
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty first": 21, "twenty second": 22,
    "twenty third": 23, "twenty fourth": 24, "twenty fifth": 25, "twenty sixth": 26,
    "twenty seventh": 27, "twenty eighth": 28, "twenty ninth": 29, "thirtieth": 30,
    "thirty first": 31,
}  # fmt: skip
ORDINAL_WORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
DAY_OF_MONTH = re.compile(
    rf"\b(?:on )?the (\d{{1,2}})(?:st|nd|rd|th)\b|\b(?:on )?the ({ORDINAL_WORD})\b|"
    r"\bel (?:dia )?(\d{1,2})\b"
)
NEXT_WEEK = re.compile(r"\b(next week|la semana que viene|la proxima semana)\b")


def plain(text: str) -> str:
    """Lower case, accents removed, curly apostrophes straight, one space between words."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text.lower())  # four-thirty, do-not-call
    return " ".join(text.split())


@dataclass(frozen=True)
class Clock:
    hour: int
    minute: int
    explicit: bool  # am/pm or a day part said, not guessed


def _number(word: str) -> float | None:
    if word in NUMBERS:
        return NUMBERS[word]
    try:
        return float(word)
    except ValueError:
        return None


def _clock(text: str) -> Clock | None:
    if NOON.search(text):
        return Clock(12, 0, True)
    best = None
    for match in CLOCK.finditer(text):
        raw, extra, suffix = match.group(1), match.group(2), match.group(3)
        said_as_time = suffix or any(key in match.group(0) for key in ("at ", "a las", "a la "))
        if not said_as_time:
            continue
        if ":" in raw:
            hour, minute = (int(part) for part in raw.split(":"))
        else:
            value = _number(raw)
            if value is None or value != int(value):
                continue
            hour, minute = int(value), 0
        if extra in ("y media", "thirty"):
            minute = 30
        elif extra in ("y cuarto", "fifteen"):
            minute = 15
        if not 0 <= hour <= 23 or not 0 <= minute <= 59:
            continue
        suffix = (suffix or "").replace(".", "").replace(" ", "")
        explicit = bool(suffix) and suffix not in ("oclock", "o'clock")
        if suffix.startswith("pm") or suffix in ("dela tarde", "delatarde", "delanoche") or (
            "tarde" in suffix or "noche" in suffix or "afternoon" in suffix
            or "evening" in suffix or "night" in suffix
        ):  # fmt: skip
            hour = hour + 12 if hour < 12 else hour
        elif suffix.startswith("am") or "manana" in suffix or "morning" in suffix:
            hour = 0 if hour == 12 else hour
        best = Clock(hour, minute, explicit)
    return best


def _day_part_hour(text: str) -> int | None:
    match = DAY_PART.search(text)
    if not match:
        return None
    part = match.group(1)
    if "morning" in part or "manana" in part:
        return 9
    if "afternoon" in part or "tarde" in part:
        return 15
    return 18


def _resolve_hour(clock: Clock, text: str) -> int:
    """A bare "at 5": in the afternoon unless the words say morning (people are called by day)."""
    if clock.explicit or clock.hour >= 13 or clock.hour == 0:
        return clock.hour
    part = _day_part_hour(text)
    if part is not None:
        return clock.hour + 12 if part >= 12 and clock.hour < 12 else clock.hour
    return clock.hour + 12 if 1 <= clock.hour <= 7 else clock.hour


def _next_day_of_month(today, number: int):
    """The next date (today or later) that is the `number`th of its month."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = today.replace(year=year, month=month, day=number)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return None


def _day(text: str, local_now: datetime) -> date | None:
    """The day plain `text` names (tomorrow, a weekday, the 3rd, next week, today), or None."""
    day = None
    if TOMORROW.search(text):
        day = local_now.date() + timedelta(days=2 if "pasado" in text else 1)
    # The last day named is the one asked for ("Thursday's a holiday: call me Friday").
    weekday = next(reversed(list(WEEKDAY.finditer(text))), None)
    if weekday:
        ahead = (WEEKDAYS[weekday.group(2)] - local_now.weekday()) % 7
        if ahead == 0 or (weekday.group(1) in ("next", "el proximo", "proximo") and ahead < 1):
            ahead = 7 if ahead == 0 else ahead
        day = local_now.date() + timedelta(days=ahead)
    elif (dom := DAY_OF_MONTH.search(text)) and day is None:
        number = int(dom.group(1) or dom.group(3) or 0) or ORDINALS[dom.group(2)]
        day = _next_day_of_month(local_now.date(), number)
    elif NEXT_WEEK.search(text) and day is None:
        day = local_now.date() + timedelta(days=7 - local_now.weekday())  # next Monday
    if day is None and TODAY.search(text):
        day = local_now.date()
    return day


def named_day(words: str, *, zone: ZoneInfo, now: datetime) -> date | None:
    """The day `words` name ("next Tuesday", "el 3", "December 3"), in `zone`, or None."""
    local_now = now.astimezone(zone)
    day = _day(plain(words), local_now)
    if day is not None:
        return day
    parsed = dateparser.parse(
        words,
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "REQUIRE_PARTS": ["day", "month"],
        },
    )
    return parsed.date() if parsed else None


def callback_time(words: str, *, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The instant `words` ask to be called back at (aware, in `zone`), or None when they name
    no time. `now`: when the words were said (the call's time)."""
    text = plain(words)
    local_now = now.astimezone(zone)
    relative = RELATIVE.search(text)
    if relative:
        amount = _number(relative.group(1)) or 0
        unit = relative.group(2)
        delta = timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount)
        return (local_now + delta).replace(second=0, microsecond=0)
    day = _day(text, local_now)
    clock = _clock(text)
    if clock is not None:
        hour = _resolve_hour(clock, text)
        if day is None:
            day = local_now.date()
            if (hour, clock.minute) <= (local_now.hour, local_now.minute):
                day += timedelta(days=1)  # "at 3" said at 4: tomorrow
        return datetime(day.year, day.month, day.day, hour, clock.minute, tzinfo=zone)
    part = _day_part_hour(text)
    if day is not None and part is not None:
        return datetime(day.year, day.month, day.day, part, 0, tzinfo=zone)
    if day is not None:
        return None  # a day without a time: not precise enough to schedule on its own
    parsed = dateparser.parse(
        words,
        settings={
            "TIMEZONE": zone.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "REQUIRE_PARTS": ["day"],
        },
    )
    return parsed if parsed and parsed > now else None
