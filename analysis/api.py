"""REST API of post-call analysis: a campaign's results as CSV or JSON Lines
(`GET /api/v1/campaigns/{id}/results.csv` and `results.jsonl`), streamed."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, viewsets
from rest_framework.decorators import action

from analysis.results import results_csv, results_json_lines
from campaigns.models import Campaign
from contactcenter.api.auth import needs
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.schema import error_responses
from contactcenter.models import ApiScope


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


def register(router) -> None:
    router.register("campaigns", CampaignResultsViewSet, basename="campaign-results")
