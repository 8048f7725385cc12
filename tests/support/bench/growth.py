"""Cost as data grows: the pages staff and CRMs use most, and the dispatcher's tick, timed at
10,000 rows per table and again at 1,000,000.

The rows are made in PostgreSQL itself (INSERT ... SELECT over generate_series: as fast as
COPY, with no file): calls with four events each, the webhook events that reported them,
contacts in one list, and one running campaign holding every contact (most finished, one in ten
waiting to be called) with one attempt per call.
"""

import json
import math
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.test import Client
from django.utils import timezone

REPEATS = 20
API_DEEP_PAGES = 40  # cursor pages followed from the newest call
TICKS = 20  # dispatcher ticks of ten calls each (a tenth of the contacts wait to be called)


def _literal(field: models.Field):
    """A field's default as an SQL parameter (JSON fields as their JSON text)."""
    value = field.get_default()
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    return value


def insert_series(
    model, *, first: int, count: int, columns: dict[str, str], joins: str = ""
) -> None:
    """Insert `count` rows numbered g = first .. first+count-1: `columns` maps a column to its
    SQL expression in g (and in what `joins` adds); every other column takes its field's
    default (or NULL)."""
    names, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        column = field.column
        if column in columns:
            names.append(column)
            expressions.append(columns[column])
        elif field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue  # identity
        elif field.has_default() or not field.null:
            if not field.has_default() and field.get_default() is None:
                raise ValueError(f"{model.__name__}.{field.name} needs a value")
            names.append(column)  # its default, or a text field's ""
            cast = "::jsonb" if isinstance(field, models.JSONField) else ""
            expressions.append(f"%s{cast}")
            params.append(_literal(field))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608 - our own names
        f"SELECT {', '.join(expressions)} FROM generate_series(%s, %s) AS g {joins}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, first, first + count - 1])


def grow_to(rows: int, *, campaign, contact_list, caller, profile) -> None:
    """Add rows until each table holds `rows` (events: four per call)."""
    from campaigns.models import CampaignAttempt, CampaignContact, Contact
    from telephony.models import Call, CallEvent, WebhookEvent

    have = Call.objects.count()
    count = rows - have
    if count <= 0:
        return
    first = have + 1
    # Calls: the newest last; a tenth failed, the rest completed; spread over 30 days.
    created = "now() - make_interval(secs => (%d - g) * 2.5)" % (rows,)  # noqa: UP031
    insert_series(Call, first=first, count=count, columns={
        "id": "md5('call' || g)::uuid",
        "status": "CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'completed' END",
        "to_number": "'+1917' || (2000000 + g %% 7000000)::text",
        "from_number": f"'{caller.e164}'",
        "caller_id_id": str(caller.pk),
        "agent_profile_id": str(profile.pk),
        "agent_id": "md5('agent' || g)",
        "agora_name": "'cc-' || md5('name' || g)",
        "channel": "'cc' || md5('channel' || g)",
        "queued_at": created,
        "dialed_at": created,
        "answered_at": f"CASE WHEN g %% 10 = 0 THEN NULL ELSE {created} END",
        "ended_at": f"{created} + interval '90 seconds'",
        "duration_seconds": "CASE WHEN g %% 10 = 0 THEN NULL ELSE 90 END",
        "last_update_at": created,
        "created_at": created,
        "updated_at": created,
    })  # fmt: skip
    for step, (kind, to_status) in enumerate(
        [
            ("status", "dialing"),
            ("status", "ringing"),
            ("status", "answered"),
            ("status", "completed"),
        ]
    ):
        insert_series(CallEvent, first=first, count=count, columns={
            "call_id": "md5('call' || g)::uuid",
            "source": "'webhook'",
            "kind": f"'{kind}'",
            "to_status": f"'{to_status}'",
            "detail": f"'Agora reported {to_status.upper()}'",
            "created_at": f"{created} + interval '{step * 5} seconds'",
        })  # fmt: skip
    insert_series(WebhookEvent, first=first, count=count, columns={
        "notice_id": "md5('notice' || g)",
        "event_type": "202",
        "agent_id": "md5('agent' || g)",
        "body": """'{"payload": {"state": "HANGUP"}}'::jsonb""",
        "status": "'processed'",
        "received_at": created,
        "processed_at": created,
    })  # fmt: skip
    phone = "'+1305' || (2000000 + g %% 7000000)::text"
    insert_series(Contact, first=first, count=count, columns={
        "contact_list_id": str(contact_list.pk),
        "phone": phone,
        "first_name": "'Ada ' || g",
        "consent": "true",
        "created_at": "now()",
        "updated_at": "now()",
    })  # fmt: skip
    contact = (
        f"JOIN campaigns_contact AS c ON c.contact_list_id = {contact_list.pk} "
        f"AND c.phone = {phone}"
    )
    insert_series(CampaignContact, first=first, count=count, joins=contact, columns={
        "campaign_id": str(campaign.pk),
        "contact_id": "c.id",
        "status": "CASE WHEN g %% 10 = 0 THEN 'retry_scheduled' ELSE 'completed' END",
        "attempts": "1",
        "next_attempt_at": "now() - interval '1 hour'",
        "updated_at": "now()",
    })  # fmt: skip
    entry = f"{contact} JOIN campaigns_campaigncontact AS e ON e.contact_id = c.id "
    insert_series(CampaignAttempt, first=first, count=count, joins=entry, columns={
        "campaign_id": str(campaign.pk),
        "campaign_contact_id": "e.id",
        "call_id": "md5('call' || g)::uuid",
        "number": "1",
        "created_at": created,
    })  # fmt: skip
    with connection.cursor() as cursor:
        # as autovacuum leaves a table in production: statistics, and the visibility map that
        # lets an index answer alone
        cursor.execute("VACUUM (ANALYZE)")
        # and with the seeding's dirty pages written now, not by a checkpoint in the middle of
        # the timings (the full run measures this after the live-call scale's heavy writes)
        cursor.execute("CHECKPOINT")


def _p95(samples: list[float]) -> float:
    """Nearest-rank p95 (of 20 samples the 19th, not the slowest: one stall is not the p95)."""
    ordered = sorted(samples)
    return round(1000 * ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)


def _timed(action: Callable[[], object], repeats: int = REPEATS) -> float:
    action()  # warm
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return _p95(samples)


def _get(client: Client, url: str, **headers) -> Callable[[], object]:
    def fetch():
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    return fetch


def measure(*, campaign, api_key: str, staff) -> dict[str, float]:
    """p95 (ms) of each page and of one dispatcher tick, at the data as it stands."""
    from campaigns.services.dispatch import dispatch_campaign
    from campaigns.states import WAITING_CONTACT_STATUSES
    from telephony.models import Call
    from telephony.states import CallStatus

    admin = Client(HTTP_HOST="localhost")
    admin.force_login(staff)
    api = Client(HTTP_HOST="localhost")
    key = {"HTTP_AUTHORIZATION": f"Api-Key {api_key}"}
    month = f"created_at__gte={(timezone.now() - timedelta(days=30)).date()}"
    figures = {
        "console: dashboard": _timed(_get(admin, "/admin/dashboard/")),
        "admin: calls": _timed(_get(admin, "/admin/telephony/call/")),
        "admin: calls, failed": _timed(_get(admin, "/admin/telephony/call/?status__exact=failed")),
        "admin: calls, this month": _timed(_get(admin, f"/admin/telephony/call/?{month}")),
        "admin: calls, search a number": _timed(
            _get(admin, "/admin/telephony/call/?q=%2B19172004242")
        ),
        "api: campaign progress": _timed(
            _get(api, f"/api/v1/campaigns/{campaign.pk}/stats/", **key)
        ),
    }
    # Deep cursor pages: follow `next` from the newest call, timing each page.
    samples, url = [], "/api/v1/calls/?page_size=200"
    for _ in range(API_DEEP_PAGES):
        began = time.perf_counter()
        response = api.get(url, **key)
        samples.append(time.perf_counter() - began)
        url = response.json().get("next")
        if not url:
            break
    figures[f"api: calls, cursor pages of 200 (up to {API_DEEP_PAGES} deep)"] = _p95(samples)
    # One tick with room for ten calls (placement is not part of it; the calls it made are
    # taken away between ticks, untimed, so that each tick claims and calls again).
    samples = []
    waiting = campaign.contacts.filter(
        status__in=WAITING_CONTACT_STATUSES, next_attempt_at__lte=timezone.now()
    ).count()
    with mock.patch("telephony.services.calls._enqueue_placements"):
        for _ in range(min(TICKS, waiting // 10)):
            began = time.perf_counter()
            made = dispatch_campaign(campaign_id=campaign.pk, now=timezone.now())
            samples.append(time.perf_counter() - began)
            if made != 10:
                raise RuntimeError(f"a dispatcher tick made {made} calls, not 10")
            Call.objects.filter(status=CallStatus.QUEUED).update(status=CallStatus.CANCELED)
    figures["dispatcher tick (10 calls)"] = _p95(samples)
    return figures


def data_growth(sizes: tuple[int, int] = (10_000, 1_000_000)) -> dict:
    from datetime import time as clock

    from campaigns.models import Campaign, ContactList
    from contactcenter.models import ApiKey, ApiScope
    from telephony.models import AgentProfile, PhoneNumber

    caller = PhoneNumber.objects.create(
        e164="+14155550100", label="Growth", outbound_address="sip.carrier.example",
        sync_state=PhoneNumber.SyncState.SYNCED,
    )  # fmt: skip
    profile = AgentProfile.objects.create(name="Growth agent", pipeline_id="pipeline-growth")
    contact_list = ContactList.objects.create(name="Growth")
    campaign = Campaign.objects.create(
        name="Growth", agent_profile=profile, status=Campaign.Status.RUNNING,
        max_concurrent_calls=10, max_calls_per_minute=1_000_000, weekdays=list(range(7)),
        window_start=clock(0, 0), window_end=clock(23, 59, 59),
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    staff = get_user_model().objects.create_superuser(
        f"growth-{uuid.uuid4().hex[:6]}", "growth@example.com", uuid.uuid4().hex
    )
    _, key = ApiKey.issue(name="Growth", scopes=ApiScope.values)
    results: dict[str, dict[str, float]] = {}
    seeding: dict[str, float] = {}
    for rows in sizes:
        began = time.monotonic()
        grow_to(rows, campaign=campaign, contact_list=contact_list, caller=caller, profile=profile)
        seeding[str(rows)] = round(time.monotonic() - began, 1)
        for name, p95 in measure(campaign=campaign, api_key=key, staff=staff).items():
            results.setdefault(name, {})[str(rows)] = p95
    small, large = (str(size) for size in sizes)
    ratios = {name: round(by[large] / by[small], 2) for name, by in results.items() if by[small]}
    return {
        "sizes": list(sizes),
        "p95_ms": results,
        "ratios": ratios,
        "within_2x": all(ratio <= 2 for ratio in ratios.values()),
        "seeding_seconds": seeding,
        "rows": "calls (with 4 events each and a webhook event), contacts, campaign contacts "
        "and attempts: each table at the size",
    }
