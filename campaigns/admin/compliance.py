"""The compliance log's page: a date range, then the CSV of every outbound call booked in it, or
of the single calls the rules refused in it (campaigns.services.compliance). Staff need to see
calls, campaigns and contacts (and refused calls, for those)."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from campaigns.services.compliance import (
    COLUMNS,
    REFUSAL_COLUMNS,
    compliance_period,
    compliance_rows,
    refused_call_rows,
)
from contactcenter.spreadsheets import csv_lines

CALLS, REFUSED = "calls", "refused"
NEEDED = {
    CALLS: ("telephony.view_call", "campaigns.view_campaign", "campaigns.view_contact"),
    REFUSED: ("telephony.view_refusedcall",),
}


class ComplianceLogForm(forms.Form):
    log = forms.ChoiceField(
        choices=[(CALLS, "Calls booked"), (REFUSED, "Single calls refused when asked for")],
        initial=CALLS,
        required=False,  # a link with only the days: the calls
        widget=forms.RadioSelect,
        help_text="Refused calls never became calls: the rule that refused each, who asked.",
    )
    first_day = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC date, included."
    )
    last_day = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC date, included."
    )

    def clean(self):
        data = super().clean()
        if "first_day" in data and "last_day" in data:  # else their own errors say why
            self.period = compliance_period(data["first_day"], data["last_day"])
        return data


def compliance_log_view(admin_site, request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    user = request.user
    if not user.has_perms(NEEDED[CALLS]):
        raise PermissionDenied
    today = timezone.now().date()
    if "first_day" in request.GET:
        form = ComplianceLogForm(request.GET)
        if form.is_valid():
            start, end = form.period
            log = form.cleaned_data["log"] or CALLS
            if not user.has_perms(NEEDED[log]):
                raise PermissionDenied
            columns, rows = (
                (COLUMNS, compliance_rows(start, end))
                if log == CALLS
                else (REFUSAL_COLUMNS, refused_call_rows(start, end))
            )
            response = StreamingHttpResponse(
                csv_lines([label for _, label in columns], rows),
                content_type="text/csv; charset=utf-8",
            )
            kind = "compliance-log" if log == CALLS else "refused-calls"
            name = f"{kind}-{form.cleaned_data['first_day']}-{form.cleaned_data['last_day']}"
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return response
    else:
        form = ComplianceLogForm(
            initial={"log": CALLS, "first_day": today.replace(day=1), "last_day": today}
        )
    context = {
        **admin_site.each_context(request),
        "title": "Compliance log",
        "form": form,
        "columns": [label for _, label in COLUMNS],
        "refusal_columns": [label for _, label in REFUSAL_COLUMNS],
    }
    return TemplateResponse(request, "admin/campaigns/compliance_log.html", context)
