"""The regional calling-hours rules the product ships with: state telemarketing hours stricter
than the federal 08:00-21:00 (the guard), and Canada's national telemarketing hours. A starting
point for staff to review with their counsel, editable in the admin."""

from datetime import time

from django.db import migrations

WEEKDAYS, SATURDAY, SUNDAY = [0, 1, 2, 3, 4], [5], [6]
MONDAY_TO_SATURDAY = WEEKDAYS + SATURDAY
EVERY_DAY = MONDAY_TO_SATURDAY + SUNDAY

# (country, state or province, weekdays, hours or None for no calls, source)
DEFAULT_RULES = [
    ("US", "FL", EVERY_DAY, (8, 20), "Florida Telephone Solicitation Act (Fla. Stat. 501.059)"),
    ("US", "OK", EVERY_DAY, (8, 20), "Oklahoma Telephone Solicitation Act"),
    ("US", "MD", EVERY_DAY, (8, 20), "Maryland Stop the Spam Calls Act"),
    ("US", "WA", EVERY_DAY, (8, 20), "Washington telephone solicitation hours"),
    ("US", "CT", EVERY_DAY, (9, 20), "Connecticut telephone solicitation hours"),
    ("US", "TX", MONDAY_TO_SATURDAY, (9, 21), "Texas Bus. & Com. Code 301.051"),
    ("US", "TX", SUNDAY, (12, 21), "Texas Bus. & Com. Code 301.051"),
    ("US", "LA", MONDAY_TO_SATURDAY, (8, 20), "Louisiana telephone solicitation hours"),
    ("US", "LA", SUNDAY, None, "Louisiana: no telephone solicitations on Sundays"),
    ("US", "AL", MONDAY_TO_SATURDAY, (8, 20), "Alabama telephone solicitation hours"),
    ("US", "AL", SUNDAY, None, "Alabama: no telephone solicitations on Sundays"),
    ("US", "MS", MONDAY_TO_SATURDAY, (8, 20), "Mississippi telephone solicitation hours"),
    ("US", "MS", SUNDAY, None, "Mississippi: no telephone solicitations on Sundays"),
    ("US", "UT", MONDAY_TO_SATURDAY, (8, 21), "Utah telephone solicitation hours"),
    ("US", "UT", SUNDAY, None, "Utah: no telephone solicitations on Sundays"),
    ("US", "RI", WEEKDAYS, (9, 18), "Rhode Island telephone solicitation hours"),
    ("US", "RI", SATURDAY, (10, 17), "Rhode Island telephone solicitation hours"),
    ("US", "RI", SUNDAY, None, "Rhode Island: no telephone solicitations on Sundays"),
    ("CA", "", WEEKDAYS, (9, 21.5), "CRTC Unsolicited Telecommunications Rules"),
    ("CA", "", SATURDAY + SUNDAY, (10, 18), "CRTC Unsolicited Telecommunications Rules"),
]


def as_time(hour: float) -> time:
    return time(int(hour), int(hour % 1 * 60))


def add_defaults(apps, schema_editor):
    rule_model = apps.get_model("campaigns", "CallingHoursRule")
    rule_model.objects.bulk_create(
        rule_model(
            country=country,
            region=region,
            weekdays=days,
            no_calls=hours is None,
            start=as_time(hours[0]) if hours else None,
            end=as_time(hours[1]) if hours else None,
            source=source,
        )
        for country, region, days, hours, source in DEFAULT_RULES
    )


def remove_defaults(apps, schema_editor):
    rule_model = apps.get_model("campaigns", "CallingHoursRule")
    for country, region, days, _, source in DEFAULT_RULES:
        rule_model.objects.filter(
            country=country, region=region, weekdays=days, source=source
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0014_calling_calendar")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
