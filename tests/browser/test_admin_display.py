"""The colours the browser gives each status badge and progress bar part, from the CSS of
admin/base_site.html (contactcenter.admin_display draws classes only). They are the colours the
pages had when each badge carried its own inline style."""

import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join

from campaigns.admin.campaigns import progress_script_config
from campaigns.models import Campaign, CampaignContact, CsvImport
from contactcenter.admin_display import (
    CALL_STATUS_GROUPS,
    BadgeKind,
    progress_display,
    status_badge,
)
from telephony.models import PhoneNumber, WebhookEvent

pytestmark = pytest.mark.django_db

GRAY, BLUE, GREEN, AMBER, RED = "#6b7280", "#2563eb", "#15803d", "#b45309", "#b91c1c"
PURPLE, DARK_GRAY, LIGHT_GRAY, CYAN = "#7c3aed", "#4b5563", "#9ca3af", "#0891b2"
PINK, INDIGO, MAGENTA = "#db2777", "#4f46e5", "#a21caf"
BADGES = {
    BadgeKind.CALL: {
        "queued": GRAY, "live": BLUE, "completed": GREEN, "unreached": AMBER, "failed": RED,
        "canceled": GRAY, "unknown": GRAY, "voicemail": PINK,
    },
    BadgeKind.CAMPAIGN: {
        "draft": GRAY, "scheduled": PURPLE, "running": BLUE, "paused": AMBER,
        "completed": GREEN, "cancelled": DARK_GRAY,
    },
    BadgeKind.CAMPAIGN_CONTACT: {
        "pending": GRAY, "in_progress": BLUE, "retry_scheduled": CYAN, "completed": GREEN,
        "callback_scheduled": INDIGO,
        "exhausted": RED, "do_not_call": PURPLE, "no_consent": MAGENTA, "invalid": DARK_GRAY,
        "cancelled": LIGHT_GRAY,
    },
    BadgeKind.NUMBER_SYNC: {
        "pending": BLUE, "synced": GREEN, "error": RED, "missing_remotely": AMBER,
        "deleting": GRAY,
    },
    BadgeKind.WEBHOOK_EVENT: {
        "received": GRAY, "processing": BLUE, "processed": GREEN, "unmatched": AMBER,
        "ignored": GRAY, "failed": RED,
    },
    BadgeKind.IMPORT: {"pending": GRAY, "running": BLUE, "done": GREEN, "failed": RED},
}  # fmt: skip
SEGMENTS = {
    "completed": GREEN, "exhausted": RED, "do_not_call": PURPLE, "no_consent": MAGENTA,
    "invalid": DARK_GRAY, "cancelled": LIGHT_GRAY,
}  # fmt: skip
OUTCOMES = {
    **SEGMENTS, "voicemail": PINK, "no_answer": AMBER, "busy": "#d97706", "failed": "#dc2626",
}  # fmt: skip


def rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[index : index + 2], 16) for index in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_every_status_has_a_colour_here():
    statuses = {
        BadgeKind.CALL: {*CALL_STATUS_GROUPS.values(), "unknown"},
        BadgeKind.CAMPAIGN: set(Campaign.Status.values),
        BadgeKind.CAMPAIGN_CONTACT: set(CampaignContact.Status.values),
        BadgeKind.NUMBER_SYNC: set(PhoneNumber.SyncState.values),
        BadgeKind.WEBHOOK_EVENT: set(WebhookEvent.Status.values),
        BadgeKind.IMPORT: set(CsvImport.Status.values),
    }
    assert {kind: set(colours) for kind, colours in BADGES.items()} == statuses


def test_badges_and_progress_bars_keep_their_colours(client, page):
    # every admin page has these styles, the login page too
    admin_page = client.get(reverse("admin:login")).content.decode()
    styles = "".join(re.findall(r"<style>.*?</style>", admin_page, re.S))
    assert ".status-badge" in styles
    badges = format_html_join(
        "",
        '<p data-case="{}">{}</p>',
        (
            (f"{kind}/{key}", status_badge(kind, key, key))
            for kind, colours in BADGES.items()
            for key in colours
        ),
    )
    # the progress script redraws a campaign's badge with the classes its config gives
    config = progress_script_config(url="/", many=False)
    redrawn = format_html_join(
        "",
        '<p data-case="redrawn/{}"><span class="{}">{}</span></p>',
        ((key, classes, label) for key, (label, classes) in config["statuses"].items()),
    )
    progress = progress_display(
        {
            "campaign": 1, "status": "running", "contacts": 16, "done": 16, "percent_done": 100,
            "by_contact_status": dict.fromkeys(SEGMENTS, 1),
            "calls_by_status": {"no_answer": 1, "busy": 1, "failed": 1},
        }
    )  # fmt: skip
    bar = render_to_string("admin/campaigns/campaign/progress.html", {"p": progress})
    page.set_content(f"<html><head>{styles}</head><body>{badges}{redrawn}{bar}</body></html>")

    shown = page.evaluate(
        """() => {
          const colour = (el) => getComputedStyle(el).backgroundColor;
          const out = {};
          document.querySelectorAll("[data-case]").forEach((p) => {
            out[p.dataset.case] = colour(p.firstElementChild);
          });
          document.querySelectorAll("[data-seg]").forEach((el) => {
            out["segment/" + el.dataset.seg] = colour(el);
          });
          document.querySelectorAll("[data-outcome]").forEach((el) => {
            out["outcome/" + el.dataset.outcome] = colour(el.querySelector("i"));
          });
          const badge = getComputedStyle(document.querySelector(".status-badge"));
          out.look = [badge.color, badge.fontWeight, badge.borderRadius, badge.display].join(" ");
          return out;
        }"""
    )

    expected = {
        **{f"{kind}/{key}": rgb(colour) for kind, colours in BADGES.items() for key, colour in
           colours.items()},
        **{f"redrawn/{key}": rgb(colour) for key, colour in BADGES[BadgeKind.CAMPAIGN].items()},
        **{f"segment/{key}": rgb(colour) for key, colour in SEGMENTS.items()},
        **{f"outcome/{key}": rgb(colour) for key, colour in OUTCOMES.items()},
        "look": "rgb(255, 255, 255) 600 9px inline-block",
    }  # fmt: skip
    assert shown == expected
