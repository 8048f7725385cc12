"""/metrics: Prometheus's scrape, behind its token, with the figures of a known sequence of
calls (placed at the simulator, reported by its webhooks, ended)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from contactcenter import metrics
from telephony.models import Call, WebhookEvent
from telephony.services.calls import calls_poll
from telephony.services.webhooks import webhooks_drain
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-the-tests"


@pytest.fixture
def token(settings, redis_db) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client) -> dict[tuple[str, tuple], float]:
    """The scrape as {(sample name, sorted labels): value}."""
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.content.decode())
        for sample in family.samples
    }


def test_metrics_are_not_served_without_their_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404  # never public by default

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == "Bearer"
    assert TOKEN not in wrong.content.decode()


def test_a_scrape_after_a_known_sequence_of_calls(
    client, token, place, simulator, webhooks, django_capture_on_commit_callbacks
):
    before = scrape(client)
    assert before[("contactcenter_live_calls", ())] == 0
    assert before[("contactcenter_live_calls_cap", ())] == 20  # the suite's default cap
    assert ("contactcenter_calls_placed_total", ()) not in before

    answered = place("+14155550150")  # talks 15 s
    busy = place("+14155550102")
    failed = place("+14155550103")
    placed = scrape(client)

    assert placed[("contactcenter_calls_placed_total", ())] == 3
    assert placed[("contactcenter_live_calls", ())] == 3
    place_requests = ("contactcenter_agora_requests_total",
                      (("operation", "place_call"), ("status", "200")))  # fmt: skip
    assert placed[place_requests] == 3
    assert placed[("contactcenter_call_placement_seconds_count", ())] == 3
    assert placed[("contactcenter_call_placement_seconds_bucket", (("le", "+Inf"),))] == 3

    simulator.advance(30)  # every call reaches its end at Agora, which says so by webhook
    with django_capture_on_commit_callbacks(execute=True):  # what follows an end, as committed
        deliver_and_process(client, webhooks)
    ended = scrape(client)

    assert {c.status for c in Call.objects.filter(pk__in=[answered.pk, busy.pk, failed.pk])} == {
        CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED,
    }  # fmt: skip
    for status in ("completed", "busy", "failed"):
        assert ended[("contactcenter_calls_ended_total", (("status", status),))] == 1
    assert ended[("contactcenter_live_calls", ())] == 0
    processed = WebhookEvent.objects.exclude(processed_at=None).count()
    assert processed > 0
    assert ended[("contactcenter_webhook_lag_seconds_count", ())] == processed
    assert ended[("contactcenter_webhook_events_waiting", ())] == 0
    assert ended[("contactcenter_db_transactions_committed_total", ())] > 0
    assert ("contactcenter_db_connections", (("state", "active"),)) in ended
    queues = {labels for name, labels in ended if name == "contactcenter_celery_queue_depth"}
    assert (("queue", "calls"),) in queues
    assert any(name == "django_http_requests_before_middlewares_total" for name, _ in ended)


def deliver_and_process(client, webhooks) -> None:
    """The simulator's webhooks posted to the app as Agora would, then processed (a drain, and
    the poll that settles unanswered ends, as beat would)."""
    for item in webhooks.received:
        signatures = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in item["headers"].items()
            if name.startswith("Agora")
        }
        client.post("/webhooks/agora/", data=item["body"], content_type="application/json",
                    **signatures)  # fmt: skip
    webhooks_drain()
    calls_poll(now=timezone.now() + timedelta(hours=1))


def test_histograms_add_up_across_writers_and_reject_unknown_labels(client, token):
    metrics.observe("dispatch_tick_seconds", [0.001, 0.02])
    metrics.observe("dispatch_tick_seconds", [7.0])  # another process, another time
    scraped = scrape(client)

    bucket = "contactcenter_dispatch_tick_seconds_bucket"
    assert scraped[(bucket, (("le", "0.005"),))] == 1
    assert scraped[(bucket, (("le", "0.025"),))] == 2
    assert scraped[(bucket, (("le", "5.0"),))] == 2
    assert scraped[(bucket, (("le", "+Inf"),))] == 3
    assert scraped[("contactcenter_dispatch_tick_seconds_sum", ())] == pytest.approx(7.021)
    with pytest.raises(ValueError, match="unknown labels"):
        metrics.count("calls_placed", status="x")
