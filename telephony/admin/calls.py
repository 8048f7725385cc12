"""Staff's view of every call: a read-only record with its timeline, transcript and metrics.

Calls are created by services only (`call_create`: the "Place a call" page here, the
`place_call` command, the API, campaigns) and change status only through
`telephony.services.calls`, so this admin cannot edit or delete a call. Staff can act on calls
through services: place one or retry one that did not connect (action; not a campaign's) with
`add_call` (overriding do-not-call and calling hours also needs `override_dialing_rules` and a
reason), hang up (action and button) with `change_call`; seeing needs `view_call`.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from contactcenter.admin_display import (
    NOT_KNOWN,
    call_status_badge,
    format_duration,
    time_with_utc,
)
from contactcenter.paginators import LargeTablePaginator
from contactcenter.spreadsheets import csv_lines
from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.rules import RulesOverride
from telephony.services.calls import (
    call_create,
    call_hangup,
    call_live_conversation,
    call_retry,
    call_supervise,
)
from telephony.states import LIVE_STATUSES, CallStatus
from telephony.validators import normalize_phone_number

_PHONE_TEXT = re.compile(r"\+?[0-9 ().\-]+")


@dataclass(frozen=True)
class CallColumn:
    """Something another app knows about a call (campaigns: its campaign and contact), shown as
    a column of the Calls list and its CSV export, as a link on the call's page, and searched.
    Telephony knows nothing of those apps: they register their columns (register_call_column)."""

    name: str
    description: str
    value: Callable[[Call], str | None]  # plain text
    link: Callable[[Call], str | None] = lambda call: None  # an admin URL, when there is one
    select_related: tuple[str, ...] = ()
    search_fields: tuple[str, ...] = ()


CALL_COLUMNS: dict[str, CallColumn] = {}


def register_call_column(column: CallColumn) -> None:
    CALL_COLUMNS[column.name] = column


def _list_cell(column: CallColumn) -> Callable[[Call], str]:
    def cell(call: Call) -> str:
        text, url = column.value(call), column.link(call)
        if not text:
            return NOT_KNOWN
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    cell.short_description = column.description  # type: ignore[attr-defined]
    cell.__name__ = column.name
    return cell


EXPORT_FIELDS = (
    ("id", "id"),
    ("created_at", "created (UTC)"),
    ("status", "status"),
    ("direction", "direction"),
    ("to_number", "to"),
    ("from_number", "from"),
    ("agent", "agent"),
    ("dialed_at", "dialed (UTC)"),
    ("answered_at", "answered (UTC)"),
    ("ended_at", "ended (UTC)"),
    ("duration_seconds", "duration (s)"),
    ("end_reason", "outcome"),
)


def _export_value(call: Call, name: str) -> Any:
    if name == "agent":
        return call.agent_profile.name if call.agent_profile else ""
    value = getattr(call, name)
    return value.isoformat() if hasattr(value, "isoformat") else value


ASSISTANT_ROLES = frozenset({"assistant", "agent", "bot"})
USER_ROLES = frozenset({"user", "callee", "human"})

# What call_hangup answers, as staff should read it.
HANGUP_OUTCOMES = {
    "hanging up": "Hanging up",
    "will hang up as soon as it is placed": "Hanging up as soon as it is placed",
    "canceled": "Canceled before dialing",
    "already ended": "Already ended",
}


def transcript_messages(transcript: Any) -> list[dict[str, str]]:
    """The stored transcript as bubbles; tolerant of malformed entries (it comes from Agora)."""
    if not isinstance(transcript, list):
        return []
    bubbles = []
    for entry in transcript:
        if not isinstance(entry, dict):
            continue
        role = str(entry.get("role") or "").strip()
        content = entry.get("content")
        if content is None:
            continue
        side = (
            "assistant"
            if role.lower() in ASSISTANT_ROLES
            else "user"
            if role.lower() in USER_ROLES
            else "other"
        )
        bubbles.append({"role": role or "unknown", "side": side, "content": str(content)})
    return bubbles


def turn_metrics_summary(metrics: Any) -> dict[str, Any] | None:
    if not isinstance(metrics, dict) or not metrics:
        return None
    summary = {
        "turns": metrics.get("turns"),
        "avg_e2e_latency_ms": metrics.get("avg_e2e_latency_ms"),
        "max_e2e_latency_ms": metrics.get("max_e2e_latency_ms"),
    }
    return summary if any(value is not None for value in summary.values()) else None


class PlaceCallForm(forms.Form):
    """One call, placed by staff; the dialing rules answer through call_create."""

    to_number = forms.CharField(
        label="Call", max_length=32, help_text="E.164 (+14155550123) or a national number."
    )
    caller_id = forms.ModelChoiceField(
        label="From",
        queryset=PhoneNumber.objects.filter(outbound=True),
        help_text="An imported number enabled for outbound calls.",
    )
    agent_profile = forms.ModelChoiceField(label="Agent", queryset=AgentProfile.objects.all())
    variables = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "style": "font-family: monospace"}),
        help_text='The agent\'s template variables, e.g. {"first_name": "Ada"}.',
    )
    callee_timezone = forms.CharField(
        label="Callee's time zone",
        required=False,
        max_length=64,
        help_text="IANA name (America/New_York). Empty: the calling hours must hold in every "
        "time zone of the number.",
    )
    callee_region = forms.CharField(
        label="Callee's region",
        required=False,
        max_length=6,
        help_text="Country and state or province (US-TX), for the regional calling hours and "
        "holidays. Empty: the number's area code's.",
    )
    scheduled_for = forms.DateTimeField(
        label="Call at",
        required=False,
        help_text="Empty: now. Otherwise a later time (2026-12-03 15:00) in your time zone, "
        "shown at the top right; the calling hours must allow the call then.",
    )
    override_rules = forms.BooleanField(
        label="Override do-not-call and calling hours",
        required=False,
        help_text="For an emergency: the call is placed even if the number is on the "
        "do-not-call list or it is outside the calling hours. Recorded with your name.",
    )
    override_reason = forms.CharField(
        label="Reason for the override", required=False, max_length=300
    )

    def __init__(self, *args: Any, can_override: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_override:
            del self.fields["override_rules"], self.fields["override_reason"]

    def clean_variables(self) -> dict:
        value = self.cleaned_data.get("variables") or {}
        if not isinstance(value, dict):
            raise ValidationError('Enter a JSON object, e.g. {"first_name": "Ada"}.')
        return value

    def clean(self) -> dict:
        data = super().clean()
        if data.get("override_rules") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why the rules are overridden.")
        return data


class TestCallMixin:
    """A "Test call" button on an agent's or a number's page: the "Place a call" page with this
    one chosen, so a test call goes through every check a single call does."""

    test_call_field = ""  # "agent_profile" or "caller_id": what the page's object is

    def test_call_url(self, request: HttpRequest, obj) -> str | None:
        if obj is None or not request.user.has_perm("telephony.add_call"):
            return None
        if isinstance(obj, PhoneNumber) and not obj.outbound:
            return None
        return f"{reverse('admin:telephony_call_place')}?{self.test_call_field}={obj.pk}"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["test_call_url"] = self.test_call_url(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


TIME_FIELDS = (
    "queued_at", "dialed_at", "ringing_at", "answered_at", "ended_at", "hangup_requested_at",
)  # fmt: skip


def _time_shown(name: str):
    def shown(self, call: Call) -> str:
        return time_with_utc(getattr(call, name))

    shown.short_description = Call._meta.get_field(name).verbose_name  # type: ignore[attr-defined]
    shown.__name__ = f"{name}_shown"
    return shown


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = (
        "status_badge",
        "direction",
        "to_number",
        "from_number",
        "agent_name",
        "created_at_shown",
        "duration",
    )
    list_display_links = ("status_badge", "to_number")
    list_select_related = ("caller_id", "agent_profile")
    # A campaign filter comes with campaigns (campaigns app): calls do not reference them yet.
    list_filter = (
        "status",
        "direction",
        ("created_at", admin.DateFieldListFilter),
        "caller_id",
    )
    search_fields = ("to_number", "from_number", "agent_id", "agora_name", "channel")
    # The calls table grows without end: no date hierarchy (it reads every call's date), the
    # caller filter lists our numbers (not those the calls used), one count, estimated when the
    # list is the whole table (contactcenter.paginators).
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ("hang_up_selected", "retry_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "status",
                    "direction",
                    "to_number",
                    "from_number",
                    "caller_id",
                    "agent_profile",
                    "pipeline_id",
                )
            },
        ),
        ("Outcome", {"fields": ("end_reason", "agora_reason", "last_error", "duration")}),
        (
            "Times",
            {
                "description": "When it happened at Agora, in your time zone; hover for UTC.",
                "fields": tuple(f"{name}_shown" for name in TIME_FIELDS),
            },
        ),
        ("Agora", {"fields": ("agora_name", "channel", "agent_id", "seen_states")}),
        ("Variables and labels", {"fields": ("variables", "labels")}),
        (
            "Bookkeeping",
            {
                "classes": ("collapse",),
                "fields": (
                    "placement_attempts",
                    "placement_lease_until",
                    "last_report_ms",
                    "last_update_at",
                    "next_poll_at",
                    "unchanged_polls",
                    "agent_data_fetched_at",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )

    # -- permissions: a read-only record ------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # calls are created by services: place_call, the API, campaigns

    def has_change_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False  # the change view renders read-only; statuses change only in services

    def has_delete_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False  # every call stays accounted for

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Hang up and retry: staff allowed to change calls (through services)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_readonly_fields(self, request: HttpRequest, obj: Call | None = None):
        return flatten_fieldsets(self.fieldsets)

    # -- what other apps know about a call (CALL_COLUMNS) --------------------------------------

    def get_list_display(self, request: HttpRequest):
        base = list(super().get_list_display(request))
        at = base.index("agent_name") if "agent_name" in base else len(base)
        return (*base[:at], *(_list_cell(c) for c in CALL_COLUMNS.values()), *base[at:])

    def get_list_select_related(self, request: HttpRequest):
        extra = [name for column in CALL_COLUMNS.values() for name in column.select_related]
        return (*self.list_select_related, *extra)

    def get_search_fields(self, request: HttpRequest):
        extra = [name for column in CALL_COLUMNS.values() for name in column.search_fields]
        return (*self.search_fields, *extra)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """A whole phone number (in any spelling) is looked up by its E.164 form in the number
        indexes: a substring search reads every call, and the calls table grows without end."""
        term = search_term.strip()
        if term and sum(ch.isdigit() for ch in term) >= 8 and _PHONE_TEXT.fullmatch(term):
            try:
                e164 = normalize_phone_number(term)
            except ValidationError:
                pass
            else:
                return queryset.filter(Q(to_number=e164) | Q(from_number=e164)), False
        return super().get_search_results(request, queryset, search_term)

    # -- the CSV export of the filtered list --------------------------------------------------

    def export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The Calls list as filtered and searched on the page, every row, as CSV (GET only)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        calls = changelist.get_queryset(request).select_related(
            *self.get_list_select_related(request)
        )
        response = StreamingHttpResponse(
            self._export_rows(calls), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="calls.csv"'
        return response

    def _export_rows(self, calls) -> Iterator[str]:
        columns = list(CALL_COLUMNS.values())
        return csv_lines(
            [label for _, label in EXPORT_FIELDS] + [column.description for column in columns],
            (
                [_export_value(call, name) for name, _ in EXPORT_FIELDS]
                + [column.value(call) for column in columns]
                for call in calls.iterator(chunk_size=2000)
            ),
        )

    # -- the changelist -----------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, call: Call) -> str:
        return call_status_badge(call.status, call.get_status_display())

    @admin.display(description="agent", ordering="agent_profile__name")
    def agent_name(self, call: Call) -> str | None:
        return call.agent_profile.name if call.agent_profile else None

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, call: Call) -> str:
        return format_duration(call.duration_seconds) or NOT_KNOWN

    # -- actions ------------------------------------------------------------------------------

    @admin.action(description="Hang up selected calls", permissions=["operate"])
    def hang_up_selected(self, request: HttpRequest, queryset) -> None:
        outcomes = Counter(
            call_hangup(call_id=call_id, source=CallEvent.Source.STAFF)
            for call_id in queryset.values_list("pk", flat=True)
        )
        parts = [
            f"{label}: {_count(outcomes[key], 'call', 'calls')}"
            for key, label in HANGUP_OUTCOMES.items()
            if outcomes[key]
        ]
        parts += [
            f"{key}: {count}" for key, count in outcomes.items() if key not in HANGUP_OUTCOMES
        ]
        acted = sum(count for key, count in outcomes.items() if key != "already ended")
        self.message_user(
            request,
            ". ".join(parts) + "." if parts else "No calls selected.",
            messages.SUCCESS if acted else messages.WARNING,
        )

    @admin.action(description="Retry selected failed calls", permissions=["place"])
    def retry_selected(self, request: HttpRequest, queryset) -> None:
        created: list[Call] = []
        for call_id, to_number in queryset.values_list("pk", "to_number"):
            try:
                created.append(
                    call_retry(
                        call_id=call_id,
                        source=CallEvent.Source.STAFF,
                        requested_by=request.user.get_username(),
                    )
                )
            except ValidationError as error:
                self.message_user(
                    request,
                    f"Call to {to_number} ({call_id}) was not retried: " + " ".join(error.messages),
                    messages.ERROR,
                )
        if created:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                (
                    (reverse("admin:telephony_call_change", args=[quote(new.pk)]), new.to_number)
                    for new in created
                ),
            )
            self.message_user(
                request,
                format_html(
                    "Queued {} as new calls: {}", _count(len(created), "retry", "retries"), links
                ),
                messages.SUCCESS,
            )

    # -- the detail page ----------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "place/",
                self.admin_site.admin_view(self.place_view),
                name="{}_{}_place".format(*info),
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            path(
                "<path:object_id>/supervise/",
                self.admin_site.admin_view(self.supervise_view),
                name="{}_{}_supervise".format(*info),
            ),
            path(
                "<path:object_id>/live/",
                self.admin_site.admin_view(self.live_view),
                name="{}_{}_live".format(*info),
            ),
            path(
                "<path:object_id>/hangup/",
                self.admin_site.admin_view(self.hangup_view),
                name="{}_{}_hangup".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_place_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telephony.add_call")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        query = request.GET.urlencode()
        extra_context = {
            **(extra_context or {}),
            "can_place": self.has_place_permission(request),
            "place_url": reverse("admin:telephony_call_place"),
            "export_url": reverse("admin:telephony_call_export") + (f"?{query}" if query else ""),
        }
        return super().changelist_view(request, extra_context)

    def place_view(self, request: HttpRequest) -> HttpResponse:
        """Place one call (admin_view: staff only, CSRF-checked); refusals are form errors."""
        if not self.has_place_permission(request):
            raise PermissionDenied
        can_override = request.user.has_perm("telephony.override_dialing_rules")
        # "Test call" on an agent's or a number's page comes here with that one chosen.
        chosen = {
            name: request.GET[name]
            for name in ("agent_profile", "caller_id")
            if request.GET.get(name, "").isdigit()
        }
        form = PlaceCallForm(request.POST or None, can_override=can_override, initial=chosen)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            override = None
            if data.get("override_rules"):
                override = RulesOverride(user=request.user, reason=data["override_reason"].strip())
            try:
                call = call_create(
                    to_number=data["to_number"],
                    caller_id=data["caller_id"],
                    agent_profile=data["agent_profile"],
                    variables=data["variables"],
                    callee_timezone=data["callee_timezone"],
                    callee_region=data["callee_region"],
                    scheduled_for=data.get("scheduled_for"),
                    source=CallEvent.Source.STAFF,
                    note=f"call queued by {request.user.get_username()} (admin)",
                    override=override,
                    requested_by=request.user.get_username(),
                )
            except ValidationError as error:
                _form_errors(form, error)
            else:
                self.message_user(request, f"Call to {call.to_number} queued.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:telephony_call_change", args=[quote(call.pk)])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Test call" if chosen else "Place a call",
            "opts": self.opts,
            "form": form,
            "changelist_url": reverse("admin:telephony_call_changelist"),
        }
        return TemplateResponse(request, "admin/telephony/call/place_call.html", context)

    def has_control_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telephony.control_call")

    def supervise_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only: speak, think or interrupt on a live answered call (a supervisor)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_control_permission(request):
            raise PermissionDenied
        call = self.get_object(request, unquote(object_id))
        if call is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        action = request.POST.get("action", "")
        try:
            outcome = call_supervise(
                call_id=call.pk,
                action=action,
                text=request.POST.get("text", ""),
                priority=request.POST.get("priority", "INTERRUPT"),
                interruptable=request.POST.get("interruptable") == "on",
                who=request.user.get_username(),
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, f"Call to {call.to_number}: {outcome}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:telephony_call_change", args=[quote(call.pk)]))

    def hangup_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only (CSRF-protected by admin_view, which also requires an active staff user)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        call = self.get_object(request, unquote(object_id))
        if call is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        outcome = call_hangup(call_id=call.pk, source=CallEvent.Source.STAFF)
        self.message_user(
            request,
            f"Call to {call.to_number}: {HANGUP_OUTCOMES.get(outcome, outcome).lower()}.",
            messages.WARNING if outcome == "already ended" else messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:telephony_call_change", args=[quote(call.pk)]))

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The call's status and conversation so far (JSON), for its page to follow it live."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        call = self.get_object(request, unquote(object_id))
        if call is None or not self.has_view_permission(request, call):
            raise PermissionDenied
        call, transcript = call_live_conversation(call_id=call.pk)
        return JsonResponse(
            {
                "status": call.status,
                "status_label": call.get_status_display(),
                "live": call.status in LIVE_STATUSES or call.status == CallStatus.QUEUED,
                "transcript": transcript_messages(transcript),
            }
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(
                live_url=reverse("admin:telephony_call_live", args=[quote(obj.pk)]),
                follows_live=not obj.is_terminal,
                call_events=list(obj.events.order_by("created_at", "id")),
                call_transcript=transcript_messages(obj.transcript),
                call_turn_metrics=turn_metrics_summary(obj.turn_metrics),
                call_status_badge=call_status_badge(obj.status, obj.get_status_display()),
                call_related=self.related_links(obj),
                can_hang_up=not obj.is_terminal and self.has_operate_permission(request),
                can_supervise=obj.status == CallStatus.ANSWERED
                and bool(obj.agent_id)
                and self.has_control_permission(request),
                supervise_url=reverse("admin:telephony_call_supervise", args=[quote(obj.pk)]),
                hangup_url=reverse("admin:telephony_call_hangup", args=[quote(obj.pk)]),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def related_links(call: Call) -> list[tuple[str, str, str | None]]:
        """(what, its name, its admin URL) for the call's caller ID, agent and what other apps
        registered (its campaign, its contact)."""
        links: list[tuple[str, str, str | None]] = []
        if call.caller_id:
            url = reverse("admin:telephony_phonenumber_change", args=[quote(call.caller_id.pk)])
            links.append(("Caller ID", str(call.caller_id.e164), url))
        if call.agent_profile:
            url = reverse(
                "admin:telephony_agentprofile_change", args=[quote(call.agent_profile.pk)]
            )
            links.append(("Agent", call.agent_profile.name, url))
        for column in CALL_COLUMNS.values():
            text = column.value(call)
            if text:
                links.append((column.description.capitalize(), text, column.link(call)))
        return links


for _name in (*TIME_FIELDS, "created_at"):
    setattr(CallAdmin, f"{_name}_shown", _time_shown(_name))
CallAdmin.created_at_shown.admin_order_field = "created_at"  # type: ignore[attr-defined]


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: by field where the form has it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)
