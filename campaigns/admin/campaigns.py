"""The campaign admin: campaigns with live progress, their settings and their page.

- Status changes only through `campaigns.services.campaigns` (start, pause, resume, cancel),
  from the changelist's actions and the change page's buttons (`campaigns.admin.controls`);
  edits through `campaign_update`, deletion (drafts only) through `campaign_delete`.
- Progress on the changelist comes from two grouped queries for the whole page
  (`campaigns_progress`), never one per row. Both pages poll `progress.json` every 2 s while a
  shown campaign is scheduled, running or paused, and update the bars and counts in place.
- Once started, a campaign keeps the settings it was checked and started with: everything but
  its name is read-only.

Each campaign's contacts: `campaigns.admin.campaign_contacts`; the campaign filter on the
Calls list: `campaigns.admin.calls`. Badges and progress bars: `contactcenter.admin_display`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from campaigns.admin.calls import CampaignCallFilter
from campaigns.admin.compliance import compliance_log_view
from campaigns.admin.controls import ACTION_CONFIRMS, CampaignControlsMixin
from campaigns.models import WEEKDAYS, Campaign, CampaignAttempt, CampaignContact
from campaigns.services.answer_rates import answer_rates
from campaigns.services.calling_calendar import DAYS_OFF_AHEAD, campaign_hours_by_region
from campaigns.services.campaigns import (
    campaign_delete,
    campaign_delete_refusals,
    campaign_editable_settings,
    campaign_progress,
    campaign_settings_errors,
    campaign_update,
    campaigns_progress,
)
from campaigns.services.dialing_rules import CallLimits
from campaigns.states import ACTIVE_CAMPAIGN_STATUSES
from contactcenter.admin_display import (
    BAR_SEGMENTS,
    BadgeKind,
    call_status_badge,
    format_duration,
    progress_display,
    status_badge,
    status_badge_classes,
)
from contactcenter.console.charts import answer_rate_heat_map, calls_over_time_chart
from telephony.admin.analysis_fields import AnalysisFieldsFormField
from telephony.models import Call, PhoneNumber
from telephony.rules import RULE_LABELS
from telephony.services.caller_health import caller_health
from telephony.services.stats import call_histogram
from telephony.states import CallStatus

S = Campaign.Status
CS = CampaignContact.Status

POLL_INTERVAL_MS = 2000
MAX_PROGRESS_IDS = 500
RECENT_CALLS = 20
CHART_MIN_SPAN = timedelta(minutes=15)


def progress_script_config(*, url: str, many: bool, panels_url: str | None = None) -> dict:
    """What the polling script needs: where to poll (and, on a campaign's page, where to fetch
    its live panels) and how to draw statuses."""
    return {
        "url": url,
        "many": many,
        "panels_url": panels_url,
        "interval_ms": POLL_INTERVAL_MS,
        "active": sorted(ACTIVE_CAMPAIGN_STATUSES),
        "statuses": {
            key: [label, status_badge_classes(BadgeKind.CAMPAIGN, key)] for key, label in S.choices
        },
        "segments": list(BAR_SEGMENTS),
    }


# -- the form ---------------------------------------------------------------------------------


def contact_local_time(label: str, help_text: str, *, required: bool = True) -> forms.TimeField:
    """A wall-clock time in each contact's own zone: no "Now" shortcut or server-time hint
    (they speak of the staff member's or the server's time, which these are not)."""
    return forms.TimeField(
        label=label,
        required=required,
        widget=forms.TimeInput(
            attrs={"type": "time", "class": "contact-local-time"}, format="%H:%M"
        ),
        help_text=help_text,
    )


@dataclass(frozen=True)
class CampaignBreakdown:
    """A table another app adds under a campaign's Outcomes (analysis: its dispositions);
    campaigns import nothing of those apps, they register here."""

    title: str
    rows: Callable[[Campaign], list[tuple[str, str, str]]]  # (key, label, shown value)


CAMPAIGN_BREAKDOWNS: list[CampaignBreakdown] = []


def register_campaign_breakdown(breakdown: CampaignBreakdown) -> None:
    CAMPAIGN_BREAKDOWNS.append(breakdown)


def _held_back_rows(campaign: Campaign) -> list[tuple[str, str, str]]:
    """The campaign's contacts a dialing rule held back since their last call, by rule."""
    counts = dict(
        CampaignContact.objects.filter(campaign=campaign)
        .exclude(held_by="")
        .order_by()
        .values_list("held_by")
        .annotate(n=Count("id"))
    )
    return [
        (rule, label, str(counts[rule])) for rule, label in RULE_LABELS.items() if rule in counts
    ]


register_campaign_breakdown(CampaignBreakdown("Held back by a dialing rule", _held_back_rows))


def _account_call_limits() -> str:
    """The settings a campaign's empty call limits stand for, in words."""
    limits = CallLimits.from_settings()
    return "; ".join(
        [
            f"{limits.per_24h} in 24 hours" if limits.per_24h else "no limit in 24 hours",
            f"{limits.per_7d} in 7 days" if limits.per_7d else "no limit in 7 days",
        ]
    )


class CampaignForm(forms.ModelForm):
    window_start = contact_local_time(
        "Window start (contact's local time)",
        "Earliest time to call, in each contact's own local time (not yours, not UTC).",
    )
    window_end = contact_local_time(
        "Window end (contact's local time)",
        "Latest time (exclusive), in each contact's own local time.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Days calls may be made, in each contact's local time.",
    )

    analysis_fields = AnalysisFieldsFormField(
        label="Fields to extract",
        help_text="Besides the outcome, what the analysis reads from each conversation: a name, "
        "a type, and what it is in words. Clear a name to remove its row.",
    )

    class Meta:
        model = Campaign
        fields = Campaign.SETTINGS_FIELDS

    def clean_success_outcomes(self) -> list[str]:
        return self.cleaned_data.get("success_outcomes") or []  # emptied: none counts

    def clean_weekdays(self) -> list[int]:
        return sorted(set(self.cleaned_data.get("weekdays") or []))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is not None:
            for name, field in self.fields.items():
                if field.widget.value_omitted_from_data(
                    self.data, self.files, self.add_prefix(name)
                ):
                    data.pop(name, None)  # not sent at all: kept as it is, not emptied
        errors = campaign_settings_errors(
            window_start=data.get("window_start"),
            window_end=data.get("window_end"),
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
            caller_ids=data.get("caller_ids") or (),
            voicemail_policy=data.get("voicemail_policy"),
            voicemail_message=data.get("voicemail_message", ""),
            outcomes=data.get("outcomes"),
            success_outcomes=data.get("success_outcomes"),
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return data


LOCKED_REASON = (
    "This campaign has been started: it keeps the settings it was checked and started with (its "
    "contacts are enrolled and being called with them), so only its name and its analysis plan "
    "can change. To change "
    "its schedule, window, pacing, retries or caller IDs, pause it first; to call other lists "
    "or with another agent, duplicate it."
)
PAUSED_REASON = (
    "This campaign is paused: its schedule, window, pacing, retries and caller IDs can be "
    "changed, then resumed with them. Its contact lists and agent stay (its contacts are "
    "enrolled and part-called): duplicate it to call other lists or with another agent."
)
HISTORY_FIELDS = ("started_at", "finished_at", "last_dispatch_at", "created_at", "updated_at")


@admin.register(Campaign)
class CampaignAdmin(CampaignControlsMixin, admin.ModelAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "status_badge",
        "progress",
        "live_calls",
        "agent_profile",
        "started_at",
    )
    list_filter = ("status", "caller_id_strategy")
    list_select_related = ("agent_profile",)
    search_fields = ("name",)
    # Searchable pickers: an account may hold thousands of numbers and lists. The caller ID
    # picker offers outbound numbers only (PhoneNumberAdmin.get_search_results).
    autocomplete_fields = ("agent_profile", "caller_ids", "contact_lists")
    date_hierarchy = "created_at"
    list_per_page = 50
    change_list_template = "admin/campaigns/campaign/change_list.html"
    change_form_template = "admin/campaigns/campaign/change_form.html"

    # -- the form -----------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None):
        editable = self.editable_settings(obj)
        main_fields = ("name", "status", "agent_profile")
        fieldsets = [
            (None, {"fields": ("name", "agent_profile") if obj is None else main_fields}),
            (
                "Caller ID",
                {"fields": ("caller_id_strategy", "caller_ids", "rotate_out_flagged_caller_ids")},
            ),
            (
                "Contacts",
                {
                    "description": "US rules treat a call by an AI agent as an artificial-voice "
                    "call, which needs the callee's prior express consent: with the "
                    "requirement on, only contacts with consent on record are called (their "
                    "consent comes from the CSV, the API or the contact's page; an opt-out "
                    "revokes it).",
                    "fields": ("contact_lists", "require_consent"),
                },
            ),
            (
                "Schedule",
                {
                    "description": "Calls are made only between the start and end, on the "
                    "chosen weekdays, inside the daily window in each contact's own local time, "
                    "narrowed by the regional calling-hours rules of each contact's state or "
                    "province; never on company blackout dates, nor on the public holidays of "
                    "the contact's country, state or province unless allowed here.",
                    "fields": (
                        "start_at",
                        "end_at",
                        "weekdays" if "weekdays" in editable else "weekday_names",
                        "window_start",
                        "window_end",
                        "call_on_holidays",
                    ),
                },
            ),
            ("Pacing", {"fields": ("max_concurrent_calls", "max_calls_per_minute")}),
            (
                "Circuit breaker",
                {
                    "description": "When its calls keep failing (Agora refusing them, a "
                    "broken caller ID or agent), the campaign pauses itself and says why, "
                    "instead of burning through its contacts.",
                    "fields": ("pause_after_failures",),
                },
            ),
            (
                "Retries",
                {
                    "description": "A contact not reached is called again after the delay for "
                    "how the last call ended, until it has had the maximum attempts.",
                    "fields": (
                        "max_attempts",
                        "retry_delay_no_answer",
                        "retry_delay_busy",
                        "retry_delay_failed",
                        "retry_delay_voicemail",
                    ),
                },
            ),
            (
                "Call limits per number",
                {
                    "description": "However many campaigns call a number, it gets at most this "
                    "many calls in any 24 hours and any 7 days, single calls included; a "
                    "contact over a limit waits until the limit allows, without using an "
                    "attempt. A campaign may narrow the account's limits, not widen them. "
                    f"Empty or 0: the account's ({_account_call_limits()}).",
                    "fields": ("calls_per_number_24h", "calls_per_number_7d"),
                },
            ),
            (
                "In the call",
                {
                    "description": "What happens when a voicemail box answers, and what the "
                    "agent may do: callbacks it schedules and outcomes it records.",
                    "fields": ("voicemail_policy", "voicemail_message", "max_callbacks"),
                },
            ),
            (
                "After the call: analysis plan",
                {
                    "description": "Each ended conversation is analysed: its outcome (one "
                    "of these, the agent's own if it recorded one), a summary, the fields "
                    "below, and success. It can change at any time: it decides nothing about "
                    "who is called or when.",
                    "fields": (
                        "outcomes",
                        "success_outcomes",
                        "success_criterion",
                        "analysis_fields",
                        "analyzer",
                        "llm_analyses_per_hour",
                    ),
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(("History", {"classes": ("collapse",), "fields": HISTORY_FIELDS}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None):
        if obj is None:
            return ()
        editable = self.editable_settings(obj)
        fields = [
            field
            for _, options in self.get_fieldsets(request, obj)
            for field in options["fields"]
            if field not in editable
        ]
        if "weekdays" not in editable:
            fields.append("weekdays")  # shown as weekday_names; its form field goes too
        return tuple(fields)

    @staticmethod
    def editable_settings(obj: Campaign | None) -> frozenset[str]:
        return (
            frozenset(Campaign.SETTINGS_FIELDS) if obj is None else campaign_editable_settings(obj)
        )

    @staticmethod
    def is_locked(obj: Campaign | None) -> bool:
        return obj is not None and obj.status != S.DRAFT

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # Only a draft (never started: no contacts enrolled, no calls) can be deleted; a
        # started campaign's contacts and attempts stay accounted for (cancel it instead).
        if obj is not None and campaign_delete_refusals(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        campaign_delete(campaign=obj)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # drafts are deleted one by one, from their page
        return actions

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"weekdays": [0, 1, 2, 3, 4], **super().get_changeform_initial_data(request)}

    @admin.display(description="weekdays")
    def weekday_names(self, campaign: Campaign) -> str:
        names = dict(WEEKDAYS)
        return ", ".join(names.get(day, str(day)) for day in campaign.weekdays) or "None"

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        if not change:
            obj.save()
            return
        # Only what the form edits (campaign_update writes nothing else: the dispatcher updates
        # status, round-robin position and dispatch time concurrently).
        changes = {
            name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data
        }
        campaign_update(campaign=obj, changes=changes)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        if not change:
            super().save_related(request, form, formsets, change)
            return
        # campaign_update has set the caller IDs and lists with the other settings.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # -- the changelist -----------------------------------------------------------------------

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # the page, fetched once and reused by the template
        progress = campaigns_progress(rows)
        for campaign in rows:
            campaign._progress = progress[campaign.pk]
        return changelist

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            "campaign_progress_config": progress_script_config(
                url=reverse("admin:campaigns_campaign_progress_many"), many=True
            ),
            "campaign_action_confirms": ACTION_CONFIRMS,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def _progress_of(self, campaign: Campaign) -> dict:
        progress = getattr(campaign, "_progress", None)
        return progress if progress is not None else campaign_progress(campaign)

    @admin.display(description="status", ordering="status")
    def status_badge(self, campaign: Campaign) -> str:
        return format_html(
            '<span data-campaign="{}" data-status="{}">{}</span>',
            campaign.pk,
            campaign.status,
            status_badge(BadgeKind.CAMPAIGN, campaign.status, campaign.get_status_display()),
        )

    @admin.display(description="progress")
    def progress(self, campaign: Campaign) -> str:
        return render_to_string(
            "admin/campaigns/campaign/progress.html",
            {"p": progress_display(self._progress_of(campaign))},
        )

    @admin.display(description="live calls / max")
    def live_calls(self, campaign: Campaign) -> str:
        progress = self._progress_of(campaign)
        return format_html(
            '<span data-campaign="{}" data-status="{}" class="campaign-live">'
            '<span data-f="live_calls">{}</span> / <span data-f="max_concurrent_calls">{}</span>'
            "</span>",
            campaign.pk,
            campaign.status,
            progress["live_calls"],
            progress["max_concurrent_calls"],
        )

    # -- custom URLs: progress ---------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "compliance-log/",
                wrap(lambda request: compliance_log_view(self.admin_site, request)),
                name="campaigns_compliance_log",
            ),
            path(
                "progress.json",
                wrap(self.progress_many_view),
                name="{}_{}_progress_many".format(*info),
            ),
            path(
                "<path:object_id>/progress.json",
                wrap(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            path(
                "<path:object_id>/live-panels/",
                wrap(self.live_panels_view),
                name="{}_{}_live_panels".format(*info),
            ),
            *super().get_urls(),  # the controls' URLs (CampaignControlsMixin), then Django's
        ]

    def _viewable(self, request: HttpRequest, object_id: str) -> Campaign | None:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    @method_decorator(require_GET)
    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = self._viewable(request, object_id)
        if campaign is None:
            return JsonResponse({"detail": "No such campaign."}, status=404)
        return JsonResponse(campaign_progress(campaign))

    @method_decorator(require_GET)
    def live_panels_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's calls-over-time chart and last calls, swapped in at each poll."""
        campaign = self._viewable(request, object_id)
        if campaign is None:
            return HttpResponse("No such campaign.", status=404, content_type="text/plain")
        html = render_to_string(
            "admin/campaigns/campaign/live_panels.html", self.live_panels(campaign), request
        )
        return HttpResponse(html, headers={"Cache-Control": "no-store"})

    def live_panels(self, campaign: Campaign) -> dict[str, Any]:
        calls = Call.objects.filter(campaign_attempt__campaign=campaign)
        start = campaign.started_at or campaign.created_at
        # At least CHART_MIN_SPAN wide, so a young campaign's first minutes fill in from the left.
        end = max(campaign.finished_at or timezone.now(), start + CHART_MIN_SPAN)
        histogram = call_histogram(calls, start=start, end=end)
        return {
            "campaign_calls_chart": (
                calls_over_time_chart(histogram, title=f"Calls of {campaign.name} over time")
                if histogram.total
                else None
            ),
            "campaign_recent_calls": self.recent_calls(campaign),
        }

    @method_decorator(require_GET)
    def progress_many_view(self, request: HttpRequest) -> HttpResponse:
        """`?ids=1,2,3`: the progress of each of those campaigns, in that order."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            ids = list(
                dict.fromkeys(int(part) for part in request.GET.get("ids", "").split(",") if part)
            )
        except ValueError:
            return JsonResponse({"detail": "ids: comma-separated campaign ids."}, status=400)
        if len(ids) > MAX_PROGRESS_IDS:
            return JsonResponse(
                {"detail": f"ids: at most {MAX_PROGRESS_IDS} campaigns at once."}, status=400
            )
        found = {
            campaign.pk: campaign for campaign in self.get_queryset(request).filter(pk__in=ids)
        }
        progress = campaigns_progress(found.values())
        return JsonResponse({"campaigns": [progress[pk] for pk in ids if pk in found]})

    # -- the change page ----------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            progress = campaign_progress(obj)
            context.update(
                campaign_progress=progress_display(progress),
                campaign_status_badge=status_badge(
                    BadgeKind.CAMPAIGN, obj.status, obj.get_status_display()
                ),
                campaign_locked_reason=(
                    PAUSED_REASON
                    if obj.status == S.PAUSED
                    else LOCKED_REASON
                    if self.is_locked(obj)
                    else ""
                ),
                campaign_controls=self.control_buttons(request, obj),
                campaign_duplicate_url=(
                    reverse("admin:campaigns_campaign_duplicate", args=[obj.pk])
                    if self.has_add_permission(request)
                    else None
                ),
                campaign_contact_statuses=[
                    (key, label, progress["by_contact_status"].get(key, 0))
                    for key, label in CS.choices
                ],
                campaign_call_statuses=[
                    (key, label, progress["calls_by_status"].get(key, 0))
                    for key, label in CallStatus.choices
                ],
                **self.live_panels(obj),
                campaign_caller_health=self.caller_health_rows(obj),
                campaign_answer_rates=answer_rate_heat_map(
                    answer_rates(Call.objects.filter(campaign_attempt__campaign=obj)),
                    title="Answer rate by weekday and hour, in each callee's local time",
                ),
                campaign_hours_by_region=campaign_hours_by_region(obj, now=timezone.now()),
                campaign_days_off_ahead=DAYS_OFF_AHEAD,
                campaign_breakdowns=[
                    (breakdown.title, breakdown.rows(obj)) for breakdown in CAMPAIGN_BREAKDOWNS
                ],
                campaign_contacts_url=reverse("admin:campaigns_campaigncontact_changelist")
                + f"?campaign__id__exact={obj.pk}",
                campaign_calls_url=reverse("admin:telephony_call_changelist")
                + f"?{CampaignCallFilter.parameter_name}={obj.pk}",
                campaign_progress_config=progress_script_config(
                    url=reverse("admin:campaigns_campaign_progress", args=[quote(obj.pk)]),
                    many=False,
                    panels_url=reverse(
                        "admin:campaigns_campaign_live_panels", args=[quote(obj.pk)]
                    ),
                ),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def caller_health_rows(campaign: Campaign) -> list[dict[str, Any]]:
        """Each of its caller IDs (and any its calls used since) against the others, 7 days."""
        health = caller_health(
            Call.objects.filter(campaign_attempt__campaign=campaign), now=timezone.now()
        )
        numbers = {number.pk: number for number in campaign.caller_ids.all()}
        in_rotation = set(numbers)
        numbers |= {n.pk: n for n in PhoneNumber.objects.filter(pk__in=set(health) - in_rotation)}
        return [
            {
                "number": number,
                "in_rotation": number.pk in in_rotation,
                "health": health.get(number.pk),
            }
            for number in sorted(numbers.values(), key=lambda number: number.e164)
        ]

    @staticmethod
    def recent_calls(campaign: Campaign) -> list[dict[str, Any]]:
        attempts = (
            CampaignAttempt.objects.filter(campaign=campaign)
            .select_related("call", "campaign_contact__contact")
            .order_by("-call__created_at", "-id")[:RECENT_CALLS]
        )
        return [
            {
                "url": reverse("admin:telephony_call_change", args=[quote(attempt.call_id)]),
                "badge": call_status_badge(attempt.call.status, attempt.call.get_status_display()),
                "to_number": attempt.call.to_number,
                "contact": str(attempt.campaign_contact.contact),
                "attempt": attempt.number,
                "created_at": attempt.call.created_at,
                "duration": format_duration(attempt.call.duration_seconds),
                "end_reason": attempt.call.end_reason,
            }
            for attempt in attempts
        ]
