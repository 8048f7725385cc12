"""The campaign controls in the admin: start, pause, resume, cancel, and cancel with hang-up,
as changelist actions and as buttons on a campaign's page.

Each control calls its service in `campaigns.services.campaigns` (the only place a campaign's
status changes) and reports each campaign's outcome, or the problems that stopped it. A button
posts to its own URL (POST only, CSRF-protected, confirmed in the browser) and comes back to the
campaign's page.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_duplicate,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaign_start_problems,
)
from campaigns.services.waiting import campaign_start_preview

S = Campaign.Status


@dataclass(frozen=True)
class Control:
    name: str  # the URL's last part and the action's stem
    label: str
    done: str  # what happened, for the message
    more: str  # said after it, on success
    confirm: str
    shown_for: frozenset[str]  # statuses whose change page shows the button
    run: Callable[[Campaign], Campaign]


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (
        Control(
            "start",
            "Start",
            "started",
            "",
            "Start this campaign? Its contacts will be called.",
            frozenset({S.DRAFT}),
            lambda campaign: campaign_start(campaign=campaign),
        ),
        Control(
            "pause",
            "Pause",
            "paused",
            "; live calls finish normally",
            "Pause this campaign? No new calls; live calls finish.",
            frozenset({S.SCHEDULED, S.RUNNING}),
            lambda campaign: campaign_pause(campaign=campaign),
        ),
        Control(
            "resume",
            "Resume",
            "resumed",
            "",
            "Resume this campaign? Its contacts will be called again.",
            frozenset({S.PAUSED}),
            lambda campaign: campaign_resume(campaign=campaign),
        ),
        Control(
            "cancel",
            "Cancel campaign…",
            "cancelled",
            "; contacts not yet called are cancelled",
            "Cancel this campaign for good? Contacts not yet called will not be; live calls "
            "finish.",
            frozenset({S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED}),
            lambda campaign: campaign_cancel(campaign=campaign, hang_up=False),
        ),
        Control(
            "cancel_hang_up",
            "Cancel campaign and hang up…",
            "cancelled",
            "; contacts not yet called are cancelled and its live calls are being hung up",
            "Cancel this campaign for good AND hang up its live calls now?",
            frozenset({S.SCHEDULED, S.RUNNING, S.PAUSED}),
            lambda campaign: campaign_cancel(campaign=campaign, hang_up=True),
        ),
    )
}
ACTION_CONFIRMS = {
    "start_selected": "Start the selected campaigns? Their contacts will be called.",
    "pause_selected": "Pause the selected campaigns?",
    "resume_selected": "Resume the selected campaigns?",
    "cancel_selected": "Cancel the selected campaigns for good?",
    "cancel_and_hang_up_selected": (
        "Cancel the selected campaigns for good AND hang up their live calls?"
    ),
}


class CampaignControlsMixin:
    """CampaignAdmin's controls: the changelist's actions, and the buttons' URLs and view."""

    actions = (
        "start_selected",
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "cancel_and_hang_up_selected",
    )

    def run_control(self, request: HttpRequest, campaigns: Iterable[Campaign], name: str) -> None:
        control = CONTROLS[name]
        for campaign in campaigns:
            try:
                result = control.run(campaign)
            except ValidationError as error:
                self.message_user(
                    request,
                    f"“{campaign.name}” was not {control.done}: " + " ".join(error.messages),
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    f"“{campaign.name}” {control.done} (now "
                    f"{result.get_status_display().lower()}){control.more}.",
                    messages.SUCCESS,
                )

    @admin.action(description="Start selected campaigns", permissions=["change"])
    def start_selected(self, request: HttpRequest, queryset) -> None:
        self.run_control(request, queryset.order_by("pk"), "start")

    @admin.action(description="Pause selected campaigns", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset) -> None:
        self.run_control(request, queryset.order_by("pk"), "pause")

    @admin.action(description="Resume selected campaigns", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset) -> None:
        self.run_control(request, queryset.order_by("pk"), "resume")

    @admin.action(description="Cancel selected campaigns", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        self.run_control(request, queryset.order_by("pk"), "cancel")

    @admin.action(
        description="Cancel selected campaigns and hang up their live calls",
        permissions=["change"],
    )
    def cancel_and_hang_up_selected(self, request: HttpRequest, queryset) -> None:
        self.run_control(request, queryset.order_by("pk"), "cancel_hang_up")

    # -- buttons ------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        controls = [
            path(
                f"<path:object_id>/{control.name.replace('_', '-')}/",
                wrap(self._control_view(control.name)),
                name="{}_{}_{}".format(*info, control.name),
            )
            for control in CONTROLS.values()
        ]
        duplicate = path(
            "<path:object_id>/duplicate/",
            wrap(self.duplicate_view),
            name="{}_{}_duplicate".format(*info),
        )
        return [*controls, duplicate, *super().get_urls()]

    def duplicate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: a new draft with every setting of this campaign; its page opens."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) and self.has_view_permission(request)):
            raise PermissionDenied
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        copy = campaign_duplicate(campaign=campaign)
        self.message_user(
            request,
            f"“{copy.name}” is a new draft with the settings of “{campaign.name}”: change what "
            "you need, then start it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_campaign_change", args=[quote(copy.pk)])
        )

    def _control_view(self, name: str):
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            return self.control_view(request, object_id, name)

        view.__name__ = f"{name}_view"
        return view

    def control_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """POST runs the control (admin_view requires an active staff user and checks the CSRF
        token); GET of "start" is its confirmation page, which says what starting would do."""
        if request.method == "GET" and name == "start":
            return self.start_confirmation_view(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"] if name == "start" else ["POST"])
        if not self.has_change_permission(request):  # before the lookup: nothing leaks
            raise PermissionDenied
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        self.run_control(request, [campaign], name)
        return HttpResponseRedirect(
            reverse("admin:campaigns_campaign_change", args=[quote(campaign.pk)])
        )

    def start_confirmation_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Before a draft starts: what stops it, or how many contacts can be called at once and
        when the others' calling windows open (campaigns.services.waiting)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        now = timezone.now()
        startable = campaign.status == Campaign.Status.DRAFT
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": f"Start “{campaign.name}”?",
            "startable": startable,
            "problems": campaign_start_problems(campaign, now=now) if startable else [],
            "preview": (
                campaign_start_preview(campaign, now=now).sentences(campaign, now)
                if startable
                else []
            ),
            "start_url": reverse("admin:campaigns_campaign_start", args=[quote(campaign.pk)]),
            "change_url": reverse("admin:campaigns_campaign_change", args=[quote(campaign.pk)]),
        }
        return TemplateResponse(
            request, "admin/campaigns/campaign/start_confirmation.html", context
        )

    def control_buttons(self, request: HttpRequest, campaign: Campaign) -> list[dict[str, Any]]:
        """The buttons the campaign's page shows: those its status allows, for staff who may
        change it (the page's script shows and hides them as the status moves)."""
        if not self.has_change_permission(request, campaign):
            return []
        return [
            {
                "name": control.name,
                "label": control.label,
                "confirm": control.confirm,
                "shown_for": " ".join(sorted(control.shown_for)),
                # Start opens its confirmation page (what starting would do); the others
                # confirm in the browser.
                "confirm_page": control.name == "start",
                "url": reverse(
                    f"admin:campaigns_campaign_{control.name}", args=[quote(campaign.pk)]
                ),
            }
            for control in CONTROLS.values()
            if campaign.status in control.shown_for
        ]
