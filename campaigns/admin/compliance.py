"""The compliance log's page: a date range, then the CSV of every outbound call booked in it
(campaigns.services.compliance). Staff need to see calls, campaigns and contacts."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from campaigns.services.compliance import COLUMNS, compliance_period, compliance_rows
from contactcenter.spreadsheets import csv_lines


class ComplianceLogForm(forms.Form):
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
    needed = ("telephony.view_call", "campaigns.view_campaign", "campaigns.view_contact")
    if not user.has_perms(needed):
        raise PermissionDenied
    today = timezone.now().date()
    if "first_day" in request.GET:
        form = ComplianceLogForm(request.GET)
        if form.is_valid():
            start, end = form.period
            response = StreamingHttpResponse(
                csv_lines([label for _, label in COLUMNS], compliance_rows(start, end)),
                content_type="text/csv; charset=utf-8",
            )
            name = (
                f"compliance-log-{form.cleaned_data['first_day']}-{form.cleaned_data['last_day']}"
            )
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return response
    else:
        form = ComplianceLogForm(initial={"first_day": today.replace(day=1), "last_day": today})
    context = {
        **admin_site.each_context(request),
        "title": "Compliance log",
        "form": form,
        "columns": [label for _, label in COLUMNS],
    }
    return TemplateResponse(request, "admin/campaigns/compliance_log.html", context)
