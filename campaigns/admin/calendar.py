"""The calling calendar's tables: the regional calling-hours rules (shipped with defaults) and
the company's blackout dates. Each change applies to the next check of every call (the
dispatcher's claim and the check right before dialing)."""

from django import forms
from django.contrib import admin

from campaigns.admin.campaigns import contact_local_time
from campaigns.models import WEEKDAYS, BlackoutDate, CallingHoursRule, weekday_words


class CallingHoursRuleForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="Days it applies, in the callee's local time.",
    )
    start = contact_local_time(
        "Start (callee's local time)", "Earliest time to call those days.", required=False
    )
    end = contact_local_time(
        "End (callee's local time)", "Latest time (exclusive) those days.", required=False
    )

    class Meta:
        model = CallingHoursRule
        fields = ("country", "region", "weekdays", "no_calls", "start", "end", "source")

    def clean_weekdays(self) -> list[int]:
        return sorted(set(self.cleaned_data.get("weekdays") or []))


@admin.register(CallingHoursRule)
class CallingHoursRuleAdmin(admin.ModelAdmin):
    form = CallingHoursRuleForm
    list_display = ("country", "region", "day_names", "hours", "source")
    list_filter = ("country", "no_calls")
    search_fields = ("country", "region", "source")
    fieldsets = (
        (
            None,
            {
                "description": "A rule narrows the hours of every call (campaign or single) to "
                "callees in its country, or its state or province only, on its days, in the "
                "callee's local time; rules that overlap all apply. None can widen a campaign's "
                "window or the calling-hours guard. A callee's region is its own (a contact's "
                "region field) or its number's area code's. The rules shipped are a starting "
                "point: review them with your counsel.",
                "fields": ("country", "region", "weekdays", "no_calls", "start", "end", "source"),
            },
        ),
    )

    @admin.display(description="days")
    def day_names(self, rule: CallingHoursRule) -> str:
        return weekday_words(rule.weekdays)

    @admin.display(description="hours (local)")
    def hours(self, rule: CallingHoursRule) -> str:
        return "No calls" if rule.no_calls else f"{rule.start:%H:%M}-{rule.end:%H:%M}"


@admin.register(BlackoutDate)
class BlackoutDateAdmin(admin.ModelAdmin):
    list_display = ("first_day", "last_day", "reason", "created_at")
    date_hierarchy = "first_day"
    search_fields = ("reason",)
    fieldsets = (
        (
            None,
            {
                "description": "No calls at all on these days, in each callee's local date: "
                "every campaign and single call (staff may still override one call). Contacts "
                "due then wait for the next day their window opens.",
                "fields": ("first_day", "last_day", "reason"),
            },
        ),
    )
