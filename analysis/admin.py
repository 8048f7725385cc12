"""Call analyses in the admin: a list to filter by disposition and success, each analysis read
only, "Analyse again" for chosen ones, and the disposition as a column of telephony's Calls list
and a link on each call's page (registered from here: telephony knows nothing of analysis)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from analysis.models import CallAnalysis
from analysis.reports import dispositions
from analysis.services import call_analyze
from campaigns.admin.campaigns import CampaignBreakdown, register_campaign_breakdown
from campaigns.models import Campaign
from telephony.admin.calls import CallColumn, register_call_column
from telephony.models import Call


@admin.register(CallAnalysis)
class CallAnalysisAdmin(admin.ModelAdmin):
    list_display = ("analyzed_at", "call_link", "disposition", "disposition_source", "success",
                    "callback_at", "analyzer", "summary_start")  # fmt: skip
    list_filter = ("disposition", "success", "disposition_source", "analyzer", "opt_out")
    search_fields = ("summary", "call__to_number")
    list_select_related = ("call",)
    readonly_fields = [field.name for field in CallAnalysis._meta.fields]
    actions = ("analyse_again",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the analysis of an ended call

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # replaced by analysing again, never removed by hand

    @admin.display(description="call")
    def call_link(self, analysis: CallAnalysis) -> str:
        url = reverse("admin:telephony_call_change", args=[quote(analysis.call_id)])
        return format_html('<a href="{}">{}</a>', url, analysis.call.to_number)

    @admin.display(description="summary")
    def summary_start(self, analysis: CallAnalysis) -> str:
        return analysis.summary[:90] + ("…" if len(analysis.summary) > 90 else "")

    def has_analyse_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("analysis.change_callanalysis")

    @admin.action(description="Analyse the chosen calls again", permissions=["analyse"])
    def analyse_again(self, request: HttpRequest, queryset) -> None:
        done = 0
        for call_id in queryset.values_list("call_id", flat=True):
            try:
                call_analyze(call_id=call_id)
                done += 1
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        self.message_user(request, f"{done} call{'s' if done != 1 else ''} analysed again.")


def _disposition(call: Call) -> str | None:
    try:
        return call.analysis.disposition
    except ObjectDoesNotExist:
        return None


def _analysis_url(call: Call) -> str | None:
    try:
        return reverse("admin:analysis_callanalysis_change", args=[quote(call.analysis.pk)])
    except ObjectDoesNotExist:
        return None


register_call_column(
    CallColumn(
        name="disposition",
        description="disposition",
        value=_disposition,
        link=_analysis_url,
        select_related=("analysis",),
    )
)


def _dispositions(campaign: Campaign) -> list[tuple[str, str, str]]:
    """The campaign's analysed calls by disposition, then the success rate (one query)."""
    return dispositions(
        CallAnalysis.objects.filter(call__campaign_attempt__campaign=campaign)
    ).rows()


register_campaign_breakdown(CampaignBreakdown("Analysed calls by disposition", _dispositions))
