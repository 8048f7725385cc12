"""REST API of post-call analysis: a campaign's results as CSV or JSON Lines
(`GET /api/v1/campaigns/{id}/results.csv` and `results.jsonl`), streamed; analysing a call
again (`POST /api/v1/calls/{id}/analyze/`). A call's analysis is part of the call
(telephony.api.calls)."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from analysis.results import results_csv, results_json_lines
from analysis.services import call_analysis_queue
from campaigns.models import Campaign
from contactcenter.api.auth import needs
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.schema import error_responses, outcome_response
from contactcenter.models import ApiScope
from telephony.models import Call


class CsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data  # the view streams its own body; this only names the format


class JsonLinesRenderer(CsvRenderer):
    media_type = "application/jsonl"
    format = "jsonl"


@extend_schema(tags=["campaigns"])
class CampaignResultsViewSet(IntegerIdLookup, viewsets.GenericViewSet):
    queryset = Campaign.objects.all()
    access = {"results": needs(ApiScope.CAMPAIGNS_READ, "campaigns.view_campaign")}

    @extend_schema(
        summary="A campaign's results, one row per contact",
        description="CSV (`results.csv`, every cell safe for spreadsheets) or JSON Lines "
        "(`results.jsonl`): the contact's fields and variables (`var:<name>`), its status, "
        "attempts and callbacks, its last call, and that call's analysis (disposition, "
        "summary, success, callback time, each extracted field as `field:<name>`), and "
        "whether the number is on the do-not-call list. Streamed: any size.",
        responses={
            (200, "text/csv"): OpenApiResponse(description="CSV or JSON Lines"),
            **error_responses(404),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="results",
        renderer_classes=[renderers.JSONRenderer, CsvRenderer, JsonLinesRenderer],
        filter_backends=[],
        pagination_class=None,
    )
    def results(self, request, pk=None, format=None):
        campaign = self.get_object()
        as_lines = (format or request.query_params.get("format")) == "jsonl"
        body = results_json_lines(campaign) if as_lines else results_csv(campaign)
        response = StreamingHttpResponse(
            body, content_type="application/jsonl" if as_lines else "text/csv; charset=utf-8"
        )
        name = f"campaign-{campaign.pk}-results.{'jsonl' if as_lines else 'csv'}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors (401, 403, 404) are the API's JSON error body, whatever format was asked for.
        if getattr(response, "status_code", 200) >= 400 and hasattr(response, "data"):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


@extend_schema(tags=["calls"])
class CallAnalysisViewSet(viewsets.GenericViewSet):
    queryset = Call.objects.all()
    access = {"analyze": needs(ApiScope.CALLS_WRITE, "analysis.change_callanalysis")}

    @extend_schema(
        summary="Analyse an ended call again",
        description="Queues the call's post-call analysis with the plan as it is now (its "
        "campaign's, or its agent's for a single call); the call's `analysis` is replaced "
        "when it is done and CRMs hear `call.analyzed`. Effects are not repeated (a callback "
        "already scheduled, a number already on the do-not-call list). 400 while the call is "
        "live.",
        request=None,
        responses={202: outcome_response("CallAnalyzeOutcome"), **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"])
    def analyze(self, request, pk=None):
        call = self.get_object()
        call_analysis_queue(call_id=call.pk)
        return Response(
            {"result": "queued", "message": f"Call {call.pk}: analysis queued."},
            status=status.HTTP_202_ACCEPTED,
        )


def register(router) -> None:
    router.register("campaigns", CampaignResultsViewSet, basename="campaign-results")
    router.register("calls", CallAnalysisViewSet, basename="call-analysis")
