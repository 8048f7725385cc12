"""A live call's page in a real browser, against the simulator server, a worker and beat: the
conversation appears as it happens without a reload, a supervisor instructs the agent and hangs
up from beside it, and the controls go when the call ends."""

from contextlib import ExitStack

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from telephony.agora import AgoraClient, AgoraConfig
from telephony.clients import use_agora_client
from telephony.models import Call
from telephony.services.calls import call_create
from telephony.states import CallStatus
from tests.support.clock import daytime_zone
from tests.support.e2e import app_env, import_caller, simulator_args
from tests.support.processes import (
    celery_beat,
    celery_worker,
    options,
    simulator_server,
    wait_for,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

PASSWORD = "a-staff-password-for-tests"
PERSON = "+14155500004"  # answers and talks until hung up


@pytest.fixture
def stack(tmp_path, redis_db, live_server, caller_number):
    """The simulator server (webhooks to the app under test), a worker and beat; the app's own
    process (the pages) asks the same simulator."""
    args = simulator_args(
        "--webhook-url", f"{live_server.url}/webhooks/agora/",
        *options(webhook_secret=settings.AGORA_WEBHOOK_SECRET),
    )  # fmt: skip
    with ExitStack() as stack:
        base_url = stack.enter_context(simulator_server(tmp_path, *args))
        import_caller(base_url, caller_number)
        env = app_env(base_url, 4)
        stack.enter_context(celery_worker(tmp_path, hostname="live@test", concurrency=2, **env))
        stack.enter_context(celery_beat(tmp_path, **env))
        client = AgoraClient(
            AgoraConfig(
                app_id=settings.AGORA_APP_ID,
                customer_id=settings.AGORA_CUSTOMER_ID,
                customer_secret=settings.AGORA_CUSTOMER_SECRET,
                base_url=base_url,
            )
        )
        stack.enter_context(client)
        stack.enter_context(use_agora_client(client))
        yield base_url


def test_a_supervisor_follows_and_steers_a_live_call(
    stack, live_server, caller_number, agent_profile, page, screenshot, clock, settings
):
    settings.CALL_LIVE_SNAPSHOT_SECONDS = 1
    get_user_model().objects.create_superuser("supervisor", "s@example.com", PASSWORD)
    call = call_create(
        to_number=PERSON, caller_id=caller_number, agent_profile=agent_profile,
        variables={"first_name": "Ada"}, callee_timezone=daytime_zone(clock.now()),
    )  # fmt: skip
    wait_for(lambda: Call.objects.get(pk=call.pk).status == CallStatus.ANSWERED, timeout=30,
             message="the call to be answered")  # fmt: skip

    page.goto(f"{live_server.url}/admin/telephony/call/{call.pk}/change/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#call-supervise")
    assert page.locator("#call-live-note").is_visible()

    # The conversation grows on the open page, without a reload.
    page.evaluate("window.stillTheSamePage = true")
    bubbles = "document.querySelectorAll('#call-transcript .call-bubble').length"
    start = page.evaluate(bubbles)
    page.wait_for_function(f"{bubbles} > {start} && {bubbles} >= 3", timeout=40_000)
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "live-call-following")

    # An instruction for the agent: it reaches the agent (its history, so the live
    # conversation) and the timeline.
    page.fill("#call-supervise textarea[name=text]", "Offer the annual plan.")
    page.click("#call-supervise button[value=think]")
    page.wait_for_selector(
        "#call-timeline td:text-is(\"supervisor: think 'Offer the annual plan.'\")"
    )
    page.wait_for_selector(".call-bubble:has-text('Offer the annual plan.')", timeout=20_000)
    screenshot(page, "live-call-instructed")

    # Hang up: when the call has ended the page reloads itself, and the controls are gone.
    page.click("#call-hangup-form button")
    page.wait_for_selector("#call-transcript:not([data-live-url])", timeout=40_000)
    assert page.locator("#call-supervise").count() == 0
    assert page.locator("#call-hangup-form").count() == 0
    assert page.locator("#call-live-note").count() == 0
    assert Call.objects.get(pk=call.pk).is_terminal
    screenshot(page, "live-call-ended")
