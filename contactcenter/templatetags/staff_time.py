"""`{{ value|with_utc }}`: a moment in the staff member's time zone, its UTC time on hover."""

from django import template

from contactcenter.admin_display import time_with_utc

register = template.Library()


@register.filter
def with_utc(value, fmt: str = "%Y-%m-%d %H:%M:%S"):
    return time_with_utc(value, fmt)
