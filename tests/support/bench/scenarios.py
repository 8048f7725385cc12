"""The benchmark's measurements. Each returns a dict of figures with the baseline it is compared
to, measured in the same run on the same machine."""

import contextlib
import csv
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from telephony.transcripts import MISSED
from tests.support.fleet import (
    Fleet,
    live_series,
    over_cap_moments,
    peak_live,
    percentile,
    refill_latencies,
    wait_until,
)
from tests.support.processes import BASE_DIR

CALLER = "+14155550100"


def callee(index: int, *, talk: int = 0, outcome: int = 0, area: int = 415) -> str:
    """A number the simulator treats by rule: `outcome` is its last digit (0 answers, 1 never
    answers, 2 busy, 3 fails, 4 talks until hung up), `talk` the two digits before it."""
    return f"+1{area}{200 + index // 10}{index % 10}{talk:02d}{outcome}"


# -- shared set-up ---------------------------------------------------------------------------------


def caller_and_profile():
    from telephony.models import AgentProfile, PhoneNumber

    caller, _ = PhoneNumber.objects.get_or_create(
        e164=CALLER,
        defaults={
            "label": "Bench",
            "outbound_address": "sip.carrier.example",
            "sync_state": PhoneNumber.SyncState.SYNCED,
        },
    )
    profile, _ = AgentProfile.objects.get_or_create(
        name="Bench agent",
        defaults={
            "pipeline_id": "pipeline-bench",
            "greeting_template": "Hi {{first_name}}, this is Acme calling.",
        },
    )
    return caller, profile


def import_caller(fleet: Fleet) -> None:
    from django.conf import settings

    httpx.post(
        f"{fleet.simulator_url}/api/conversational-ai-agent/v2/phone-numbers",
        json={"provider": "byo", "phone_number": CALLER, "label": "Bench", "outbound": True,
              "inbound_config": {}, "outbound_config": {"address": "sip.carrier.example"}},
        auth=(settings.AGORA_CUSTOMER_ID, settings.AGORA_CUSTOMER_SECRET),
        timeout=30,
    ).raise_for_status()  # fmt: skip


def make_campaign(name: str, numbers: list[str], *, cap: int, attempts: int = 1, **fields):
    from datetime import time as clock

    from campaigns.models import Campaign, Contact, ContactList

    caller, profile = caller_and_profile()
    contact_list = ContactList.objects.create(name=f"{name} {uuid.uuid4().hex[:6]}")
    Contact.objects.bulk_create(
        (
            Contact(contact_list=contact_list, consent=True, phone=number, first_name="Ada")
            for number in numbers
        ),
        batch_size=5000,
    )
    campaign = Campaign.objects.create(
        name=name,
        agent_profile=profile,
        max_concurrent_calls=cap,
        max_calls_per_minute=1_000_000,
        max_attempts=attempts,
        weekdays=list(range(7)),
        window_start=clock(0, 0),
        window_end=clock(23, 59, 59),
        **fields,
    )
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


def campaign_calls(fleet: Fleet, campaign) -> list[dict]:
    return [
        call
        for call in fleet.ledger_calls()
        if call["labels"].get("campaign_id") == str(campaign.pk)
    ]


def open_contacts(campaign) -> int:
    from campaigns.states import OPEN_CONTACT_STATUSES

    return campaign.contacts.filter(status__in=OPEN_CONTACT_STATUSES).count()


def _start_app(fleet: Fleet, *, workers: int, concurrency: int, dispatchers: int = 0) -> None:
    for index in range(workers):
        fleet.start_worker(f"worker{index}", concurrency=concurrency)
    fleet.start_beat()
    for index in range(dispatchers):
        fleet.start_dispatcher(f"dispatcher{index}", interval=0.2)


# -- 1. placement throughput -----------------------------------------------------------------------


ROUNDS = 3  # the short side-by-side ratios are measured this many times; the median is shown


def _median_round(rounds: list[dict]) -> dict:
    """The round whose ratio is the median, with every round's figures beside it (one run on
    a shared machine moves by more than the effects measured)."""
    ordered = sorted(rounds, key=lambda one: one["ratio"])
    median = dict(ordered[len(ordered) // 2])
    median["rounds"] = [
        {key: value for key, value in one.items() if not isinstance(value, dict)} for one in rounds
    ]
    return median


def placement_throughput(
    fleet: Fleet, *, calls: int, workers: int, concurrency: int, rounds: int = ROUNDS
) -> dict:
    """Calls placed per second end to end, against a bare httpx loop posting to the same
    simulator with as many threads as the workers have processes; `rounds` times, app and
    loop in turn, the median round reported."""
    measured = []
    for index in range(rounds):
        if index:
            fleet.fresh_state()
        measured.append(
            _placement_round(fleet, calls=calls, workers=workers, concurrency=concurrency)
        )
    return _median_round(measured)


def _placement_round(fleet: Fleet, *, calls: int, workers: int, concurrency: int) -> dict:
    from campaigns.services.campaigns import campaign_start

    fleet.simulator_config(max_concurrent_calls=calls * 2, webhook_url=None)
    import_caller(fleet)
    fleet.configure(
        AGORA_MAX_CONCURRENT_CALLS=str(calls * 2),
        DISPATCH_INTERVAL="0.5",
        CALL_POLL_AFTER_SECONDS="3600",  # polling is not part of placement
    )
    _start_app(fleet, workers=workers, concurrency=concurrency, dispatchers=1)
    numbers = [callee(index, outcome=4) for index in range(calls)]
    campaign = make_campaign("Throughput", numbers, cap=calls * 2)
    started = time.monotonic()
    campaign_start(campaign=campaign)
    wait_until(
        lambda: fleet.ledger()["calls"]["placed"] >= calls,
        timeout=900,
        message=f"{calls} calls to reach the simulator",
    )
    elapsed = time.monotonic() - started
    ledger = fleet.ledger()

    baseline = bare_placement_loop(fleet, calls=calls, threads=workers * concurrency)
    rate = calls / elapsed
    return {
        "calls": calls,
        "workers": f"{workers} x {concurrency} (prefork) + beat + 1 extra dispatcher",
        "seconds": round(elapsed, 2),
        "calls_per_second": round(rate, 1),
        "duplicate_channels": len(ledger["calls"]["duplicate_channels"]),
        "baseline_calls_per_second": baseline["calls_per_second"],
        "baseline": f"bare httpx loop, {workers * concurrency} threads, prebuilt bodies",
        "ratio": round(rate / baseline["calls_per_second"], 3),
    }


def bare_placement_loop(fleet: Fleet, *, calls: int, threads: int) -> dict:
    from django.conf import settings

    from telephony.agora import PlaceCallRequest
    from telephony.agora.tokens import build_call_tokens

    fleet.fresh_state()  # the app's processes stop: the loop has the machine to itself
    import_caller(fleet)
    bodies = []
    for index in range(calls):
        channel = f"bare{uuid.uuid4().hex}"
        tokens = build_call_tokens(
            app_id=settings.AGORA_APP_ID,
            app_certificate=settings.AGORA_APP_CERTIFICATE,
            channel=channel,
            agent_uid="100",
            sip_uid="200",
            ttl_seconds=3600,
            now=time.time(),
        )
        bodies.append(
            PlaceCallRequest(
                name=f"bare-{channel}",
                to_number=callee(index, outcome=4, area=650),
                from_number=CALLER,
                sip_rtc_uid=tokens.sip_uid,
                sip_rtc_token=tokens.sip_token,
                channel=channel,
                agent_token=tokens.agent_token,
                agent_rtc_uid=tokens.agent_uid,
                pipeline_id="pipeline-bench",
                properties={"labels": {"bench": "bare"}},
            ).to_body()
        )
    auth = (settings.AGORA_CUSTOMER_ID, settings.AGORA_CUSTOMER_SECRET)
    project = f"/api/conversational-ai-agent/v2/projects/{settings.AGORA_APP_ID}"
    url = f"{fleet.simulator_url}{project}/call"
    failures = []

    def post(chunk: list[dict]) -> None:
        with httpx.Client(auth=auth, timeout=30) as http:
            for body in chunk:
                if http.post(url, json=body).status_code != 200:
                    failures.append(body["name"])

    chunks = [bodies[index::threads] for index in range(threads)]
    started = time.monotonic()
    run_threads([lambda chunk=chunk: post(chunk) for chunk in chunks])
    elapsed = time.monotonic() - started
    if failures:
        raise RuntimeError(f"the bare loop's posts failed: {len(failures)} of {calls}")
    return {"seconds": round(elapsed, 2), "calls_per_second": round(calls / elapsed, 1)}


def run_threads(jobs: list[Callable[[], Any]]) -> None:
    errors = []

    def guarded(job):
        try:
            job()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# -- 2. concurrency utilisation and refill latency -------------------------------------------------


def utilisation(fleet: Fleet, *, contacts: int, cap: int, talk: int, web_url: str) -> dict:
    """Share of the cap kept busy while contacts remain, and how long a freed place stays empty
    (calls end by the simulator's webhook to the app, as in production)."""
    from campaigns.services.campaigns import campaign_start

    fleet.simulator_config(max_concurrent_calls=cap, webhook_url=f"{web_url}/webhooks/agora/")
    import_caller(fleet)
    fleet.configure(
        AGORA_MAX_CONCURRENT_CALLS=str(cap),
        DISPATCH_INTERVAL="1",
        CALL_POLL_INTERVAL="1",
        CALL_POLL_AFTER_SECONDS="5",
    )
    _start_app(fleet, workers=2, concurrency=4)
    campaign = make_campaign(
        "Utilisation", [callee(index, talk=talk) for index in range(contacts)], cap=cap
    )
    started = time.monotonic()
    campaign_start(campaign=campaign)
    wait_until(
        lambda: open_contacts(campaign) == 0,
        timeout=contacts * (talk + 10) / cap + 300,
        message="the campaign to finish",
    )
    elapsed = time.monotonic() - started
    calls = campaign_calls(fleet, campaign)

    last_placed = max(call["created_at"] for call in calls)
    first_placed = min(call["created_at"] for call in calls)
    series = live_series(calls, step=0.25)
    busy = [live for moment, live in series if moment <= last_placed - first_placed]
    latencies = refill_latencies(calls, cap)
    return {
        "contacts": contacts,
        "cap": cap,
        "talk_seconds": talk,
        **_refill_stages(calls, cap),
        "seconds_to_finish": round(elapsed, 1),
        "utilisation": round(sum(busy) / len(busy) / cap, 3) if busy else None,
        "peak_live": peak_live(calls),
        "over_cap_moments": over_cap_moments(calls, cap),
        "refill_p50_seconds": _round(percentile(latencies, 0.5)),
        "refill_p95_seconds": _round(percentile(latencies, 0.95)),
        "refills": len(latencies),
        "baseline": "the cap itself: utilisation 1.0 and refill 0 s are the ceiling",
        "series": series,
    }


def _refill_stages(calls: list[dict], cap: int) -> dict:
    """Where a freed place's wait goes, p50 / p95 of each stage, pairing the k-th call to end
    with the (cap+k)-th to start (as refill_latencies does): Agora sending the hang-up, its
    delivery to us, waiting for a drain, applying it, and from then to the next call reaching
    Agora (recording the outcome, the rest of the drain's batch, the dispatch, the placement)."""
    from telephony.models import WebhookEvent

    hangups = {
        event.agent_id: event
        for event in WebhookEvent.objects.filter(
            body__payload__state="HANGUP", processed_at__isnull=False
        ).only("agent_id", "notify_ms", "body", "received_at", "claimed_at", "processed_at")
    }
    starts = sorted(call["created_at"] for call in calls)
    ended = sorted((call["ended_at"], call["agent_id"]) for call in calls if call["ended_at"])
    stages: dict[str, list[float]] = {
        "sending": [], "delivery": [], "queued": [], "applying": [], "placing": [],
    }  # fmt: skip
    for index, (ended_at, agent_id) in enumerate(ended):
        event = hangups.get(agent_id)
        if cap + index >= len(starts) or event is None:
            continue
        stages["sending"].append(event.notify_ms / 1000 - ended_at)
        stages["delivery"].append(event.received_at.timestamp() - event.notify_ms / 1000)
        stages["queued"].append((event.claimed_at - event.received_at).total_seconds())
        stages["applying"].append((event.processed_at - event.claimed_at).total_seconds())
        stages["placing"].append(starts[cap + index] - event.processed_at.timestamp())
    return {
        f"refill_{name}_p{int(q * 100)}_seconds": _round(percentile(values, q), 3)
        for name, values in stages.items()
        for q in (0.5, 0.95)
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# -- 3. contact import -----------------------------------------------------------------------------


def write_contacts_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "first_name", "last_name", "external_id", "plan"])
        for index in range(rows):
            area = (201, 212, 305, 415, 617, 702, 808, 917)[index % 8]
            number = f"+1{area}{200 + (index // 10_000) % 700}{index % 10_000:04d}"
            writer.writerow([number, f"Ada{index}", "Lovelace", f"crm-{index}", "gold"])


def contact_import(fleet: Fleet, *, rows: int) -> dict:
    """Rows per second and peak memory of the import service (its own process), against
    PostgreSQL's COPY of the same file into a bare table."""
    path = fleet.workdir / f"contacts-{rows}.csv"
    write_contacts_csv(path, rows)
    probe = subprocess.run(
        [sys.executable, "-m", "tests.support.bench.import_probe", str(path)],
        cwd=BASE_DIR,
        env={**os.environ, **fleet.env()},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    copy_seconds = copy_baseline(fleet, path)
    rate = result["rows"] / result["seconds"]
    return {
        **result,
        "rows_per_second": round(rate),
        "baseline_rows_per_second": round(rows / copy_seconds),
        "baseline": "PostgreSQL COPY of the same file into a table without checks",
        "ratio": round(rate / (rows / copy_seconds), 3),
    }


def results_export(fleet: Fleet, *, rows: int) -> dict:
    """Rows per second and peak memory of a campaign's results export (its own process) for a
    finished campaign of `rows` contacts (tests/support/bench/export_probe.py)."""
    probe = subprocess.run(
        [sys.executable, "-m", "tests.support.bench.export_probe", str(rows)],
        cwd=BASE_DIR,
        env={**os.environ, **fleet.env()},
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        raise RuntimeError(f"the export probe failed:\n{probe.stderr[-3000:]}")
    return json.loads(probe.stdout.strip().splitlines()[-1])


def copy_baseline(fleet: Fleet, path: Path) -> float:
    import psycopg

    with psycopg.connect(fleet.database_url) as connection:
        connection.execute(
            "CREATE TEMP TABLE bench_copy (phone text, first_name text, last_name text, "
            "external_id text, plan text)"
        )
        started = time.monotonic()
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as source,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        return time.monotonic() - started


# -- 4. webhook ingest -----------------------------------------------------------------------------


def _webhook_requests(count: int) -> list[tuple[bytes, dict[str, str]]]:
    from django.conf import settings

    from telephony.agora.webhooks import sign

    requests = []
    for _ in range(count):
        body = json.dumps(
            {
                "noticeId": uuid.uuid4().hex,
                "productId": 17,
                "eventType": 202,
                "notifyMs": int(time.time() * 1000),
                "sid": uuid.uuid4().hex,
                "payload": {
                    "agent_id": uuid.uuid4().hex.upper(),
                    "state": "CALLING",
                    "report_ms": int(time.time() * 1000),
                },
            },
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json", **sign(body, settings.AGORA_WEBHOOK_SECRET)}
        requests.append((body, headers))
    return requests


def load(url: str, *, seconds: float, clients: int, requests=None) -> dict:
    """`clients` threads, each with a keep-alive connection, for `seconds`: GET `url`, or POST
    each of `requests` (body, headers) once, in order. Counts and latencies."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.monotonic() + seconds
    position = iter(range(len(requests))) if requests else None
    lock = threading.Lock()

    def next_request():
        with lock:
            index = next(position, None)
        return None if index is None else requests[index]

    def client(slot: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                if requests:
                    item = next_request()
                    if item is None:
                        return
                    begun = time.perf_counter()
                    response = http.post(url, content=item[0], headers=item[1])
                else:
                    begun = time.perf_counter()
                    response = http.get(url)
                took = time.perf_counter() - begun
                if response.status_code < 300:
                    latencies[slot].append(took)
                else:
                    errors[slot] += 1

    started = time.monotonic()
    run_threads([lambda slot=slot: client(slot) for slot in range(clients)])
    elapsed = time.monotonic() - started
    every = [value for values in latencies for value in values]
    return {
        "requests": len(every),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": _round(1000 * (percentile(every, 0.5) or 0), 1),
        "p99_ms": _round(1000 * (percentile(every, 0.99) or 0), 1),
    }


def webhook_ingest(
    fleet: Fleet, *, web_url: str, seconds: float, clients: int, rounds: int = ROUNDS
) -> dict:
    """Signed Agora webhooks (each a new notice) received, verified, stored and queued, under
    gunicorn, against a bare Django view receiving the same requests on the same server (the
    bench's web settings add it: tests.support.bench.web), `rounds` times in turn, the median
    round reported. GET /livez/ is measured too, for reference: a GET costs the load generator
    less than a signed POST, on the same cores."""
    from telephony.models import WebhookEvent

    from .web import BARE_POST_PATH

    bare_get = load(f"{web_url}/livez/", seconds=seconds, clients=clients)
    count = int(bare_get["requests_per_second"] * seconds * 1.5) + 1000
    measured = []
    for _ in range(rounds):  # the bare view and the app in turn
        bare = load(
            f"{web_url}/{BARE_POST_PATH}", seconds=seconds, clients=clients,
            requests=_webhook_requests(count),
        )  # fmt: skip
        requests = _webhook_requests(count)
        before = WebhookEvent.objects.count()
        ingest = load(
            f"{web_url}/webhooks/agora/", seconds=seconds, clients=clients, requests=requests
        )
        stored = WebhookEvent.objects.count() - before
        if stored != ingest["requests"]:
            raise RuntimeError(f"{ingest['requests']} webhooks answered but {stored} stored")
        measured.append(
            {
                "webhooks": ingest,
                "bare_view": bare,
                "ratio": round(ingest["requests_per_second"] / bare["requests_per_second"], 3),
                "requests_per_second": ingest["requests_per_second"],
                "bare_requests_per_second": bare["requests_per_second"],
                "p99_ms": ingest["p99_ms"],
                "stored": stored,
            }
        )
    median = _median_round(measured)
    return {
        "clients": clients,
        **median,
        "baseline": (
            "a bare Django view (the full middleware stack, the body read, a JSON answer) "
            "receiving the same signed POSTs on the same gunicorn"
        ),
        "bare_get": bare_get,
        "ratio_to_get": round(
            median["webhooks"]["requests_per_second"] / bare_get["requests_per_second"], 3
        ),
    }


def retention_pruning(fleet: Fleet, *, web_url: str, rows: int, seconds: float,
                      clients: int) -> dict:  # fmt: skip
    """Retention pruning `rows` webhook events older than their time (made in PostgreSQL), and
    webhook ingest measured without it and while it runs (contactcenter.retention, in a process
    of its own, as beat's task would): does deleting in batches hold ingest up?"""
    from django.conf import settings
    from django.db import connection

    from telephony.models import WebhookEvent

    table = WebhookEvent._meta.db_table
    old_ms = int((time.time() - 90 * 86400) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (notice_id, product_id, event_type, notify_ms, sid, agent_id, "  # noqa: S608
            "body, signature_version, status, deliveries, attempts, last_error, received_at, "
            "processed_at) SELECT 'old-' || n, 17, 202, %s, 'sid', 'AGENT' || n, "
            "'{\"payload\": {}}'::jsonb, 'v2', 'processed', 1, 1, '', "
            "now() - interval '90 days', now() - interval '90 days' "
            "FROM generate_series(1, %s) AS n",
            [old_ms, rows],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
    count = int(rows / 50) + 50_000  # more signed requests than any run can send
    quiet = load(f"{web_url}/webhooks/agora/", seconds=seconds, clients=clients,
                 requests=_webhook_requests(count))  # fmt: skip
    requests = _webhook_requests(count)
    pruner = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c",
         "import json, time; from contactcenter.retention import prune_expired; "
         "began = time.monotonic(); removed = prune_expired(seconds=3600); "
         "print(json.dumps({'removed': removed, 'seconds': time.monotonic() - began}))"],
        cwd=BASE_DIR, env=fleet.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    time.sleep(1)  # the pruner under way
    during = load(f"{web_url}/webhooks/agora/", seconds=seconds, clients=clients,
                  requests=requests)  # fmt: skip
    output, _ = pruner.communicate(timeout=1800)
    pruned = json.loads(output.strip().splitlines()[-1])
    left = WebhookEvent.objects.filter(notice_id__startswith="old-").count()
    return {
        "rows": rows,
        "pruned": pruned["removed"].get("webhook events", 0),
        "left": left,
        "prune_seconds": round(pruned["seconds"], 1),
        "pruned_per_second": round(
            pruned["removed"].get("webhook events", 0) / pruned["seconds"], 1
        ),
        "ingest_quiet": quiet,
        "ingest_pruning": during,
        "batch_size": settings.RETENTION_BATCH_SIZE,
        "batch_pause_seconds": settings.RETENTION_BATCH_PAUSE_SECONDS,
    }


# -- 5. polling cost -------------------------------------------------------------------------------


def polling_cost(fleet: Fleet, *, live: int, seconds: float) -> dict:
    """Agora API requests per live call per minute, with every call talking and webhooks off:
    everything the app knows of its calls comes from polling."""
    from django.conf import settings as django_settings

    from campaigns.services.campaigns import campaign_start
    from telephony.models import Call
    from telephony.states import CallStatus

    fleet.simulator_config(max_concurrent_calls=live * 2, webhook_url=None)
    import_caller(fleet)
    fleet.configure(AGORA_MAX_CONCURRENT_CALLS=str(live * 2), DISPATCH_INTERVAL="1")
    for name in ("CALL_POLL_INTERVAL", "CALL_POLL_AFTER_SECONDS"):
        fleet.settings.pop(name, None)
        os.environ.pop(name, None)
    _start_app(fleet, workers=2, concurrency=4, dispatchers=1)
    campaign = make_campaign(
        "Polling", [callee(index, outcome=4, area=510) for index in range(live)], cap=live
    )
    campaign_start(campaign=campaign)
    wait_until(
        lambda: (
            Call.objects.filter(
                campaign_attempt__campaign=campaign, status=CallStatus.ANSWERED
            ).count()
            >= live
        ),
        timeout=600,
        message=f"{live} calls to be answered and known to be",
    )
    first, from_epoch = fleet.ledger()["requests"]["by_operation"], time.time()
    started = time.monotonic()
    time.sleep(seconds)
    last, to_epoch = fleet.ledger()["requests"]["by_operation"], time.time()
    elapsed = time.monotonic() - started
    detection_looks = _voicemail_detection_looks(fleet, since=from_epoch, until=to_epoch)
    delta = {op: n - first.get(op, 0) for op, n in last.items() if n - first.get(op, 0)}
    per_call_minute = sum(delta.values()) / live / (elapsed / 60)
    kept = list(
        Call.objects.filter(campaign_attempt__campaign=campaign).values_list(
            "transcript", flat=True
        )
    )
    interval = float(os.environ.get("CALL_POLL_INTERVAL") or django_settings.CALL_POLL_INTERVAL)
    naive = 60 / interval
    status = sum(n for op, n in delta.items() if op in ("list_calls", "get_call"))
    return {
        "live_calls": live,
        "seconds": round(elapsed, 1),
        "requests": sum(delta.values()),
        "by_operation": delta,
        "requests_per_live_call_per_minute": round(per_call_minute, 3),
        # Status alone; the rest is mostly transcript snapshots (agent history), which Agora
        # serves only while the agent runs, so with webhooks off they are taken while talking.
        "status_requests_per_live_call_per_minute": round(status / live / (elapsed / 60), 4),
        "baseline_requests_per_live_call_per_minute": round(naive, 1),
        "baseline": f"computed: one status GET per live call every {interval:g} s "
        "(CALL_POLL_INTERVAL)",
        "ratio": round(per_call_minute / naive, 4),
        # complete: no transcript lost messages between two looks at Agora's history window
        "transcripts_with_a_gap": sum(1 for transcript in kept if MISSED in (transcript or [])),
        "transcripts_kept": sum(1 for transcript in kept if transcript),
        # Voicemail detection's own looks at the history (made with webhooks on too): the
        # rest is what polling costs.
        "voicemail_detection_looks": detection_looks,
        "requests_per_live_call_per_minute_without_detection": round(
            (sum(delta.values()) - detection_looks) / live / (elapsed / 60), 3
        ),
    }


def _voicemail_detection_looks(fleet: Fleet, *, since: float, until: float) -> int:
    """History requests within [since, until) that were voicemail detection's: a call's looks
    within the detection's span of its first look (VOICEMAIL_DETECTION_POLL_SECONDS, from the
    app's learning of the answer, plus 3 s for the tasks' own delays). Transcript snapshots come
    a minute or more after the look before them."""
    from telephony.services.voicemail import poll_delays

    delays = poll_delays()
    span = (max(delays) - min(delays) + 3) if delays else 0
    looks = httpx.get(
        f"{fleet.simulator_url}/_simulator/requests",
        params={"operation": "get_agent_history"},
        timeout=60,
    ).json()
    first_look: dict[str, float] = {}
    detected = 0
    for look in looks:  # oldest first
        agent_id = look["path"].rstrip("/").split("/")[-2]  # …/agents/{agent_id}/history
        first = first_look.setdefault(agent_id, look["at"])
        if since <= look["at"] < until and look["at"] - first <= span:
            detected += 1
    return detected


# -- 6. under contention ---------------------------------------------------------------------------


@contextlib.contextmanager
def cpu_hog():
    """A CPU-bound process keeping one core busy meanwhile (another deployment's load)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def under_contention(fleet: Fleet, *, sizes: dict, web_url: str, quiet: dict) -> dict:
    """Placement and webhook ingest again, with one core taken: how much each path (the app's
    and its baseline's) keeps of its quiet rate. The app should lose no more than its baseline."""
    with cpu_hog():
        placement = placement_throughput(
            fleet, calls=sizes["throughput_calls"], workers=2, concurrency=4
        )
        fleet.fresh_state()
        ingest = webhook_ingest(fleet, web_url=web_url, seconds=sizes["ingest_seconds"], clients=8)
    result = {"placement": placement, "ingest": ingest}
    calm_placement, calm_ingest = quiet.get("throughput"), quiet.get("ingest")
    if calm_placement and calm_ingest:
        result["kept"] = {
            "placement_app": _round(
                placement["calls_per_second"] / calm_placement["calls_per_second"], 3
            ),
            "placement_baseline": _round(
                placement["baseline_calls_per_second"]
                / calm_placement["baseline_calls_per_second"],
                3,
            ),
            "ingest_app": _round(
                ingest["webhooks"]["requests_per_second"]
                / calm_ingest["webhooks"]["requests_per_second"],
                3,
            ),
            "ingest_baseline": _round(
                ingest["bare_view"]["requests_per_second"]
                / calm_ingest["bare_view"]["requests_per_second"],
                3,
            ),
        }
    return result


# -- 7. live-call scale ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and every descendant alive now."""
    total, todo = 0.0, [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            todo += _children(current)
    return total


def _app_cpu(fleet: Fleet) -> float:
    return sum(
        _cpu_seconds(process.proc.pid)
        for name, process in fleet.processes.items()
        if name not in ("simulator", "redis")
    )


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _webhook_stages(*, since_ms: int = 0, until_ms: int | None = None) -> dict:
    """p50 / p95 of each stage of the stored notifications' way (those sent within
    [since_ms, until_ms)): the event (report_ms) to its sending (notifyMs), sent to received,
    received to claimed by a drain, claimed to processed."""
    from telephony.models import WebhookEvent

    stored = WebhookEvent.objects.filter(
        notify_ms__gte=since_ms, processed_at__isnull=False, claimed_at__isnull=False
    )
    if until_ms is not None:
        stored = stored.filter(notify_ms__lt=until_ms)
    stages: dict[str, list[float]] = {"sending": [], "delivery": [], "queued": [], "applying": []}
    for notify_ms, body, received, claimed, processed in stored.values_list(
        "notify_ms", "body", "received_at", "claimed_at", "processed_at"
    ):
        sent = datetime.fromtimestamp(notify_ms / 1000, tz=UTC)
        happened_ms = (body.get("payload") or {}).get("report_ms")
        if isinstance(happened_ms, int):  # the simulator's sender pool: Agora's own delay
            stages["sending"].append((notify_ms - happened_ms) / 1000)
        stages["delivery"].append((received - sent).total_seconds())
        stages["queued"].append((claimed - received).total_seconds())
        stages["applying"].append((processed - claimed).total_seconds())
    return {
        f"webhook_{name}_p{int(q * 100)}_seconds": _round(percentile(values, q), 3)
        for name, values in stages.items()
        for q in (0.5, 0.95)
    }


def _state_lags(*, since_ms: int, until_ms: int) -> list[float]:
    """Seconds from each webhook-reported call event (Agora's report_ms, within the range) to
    our row recording it."""
    from telephony.models import CallEvent

    return [
        (created - datetime.fromtimestamp(report_ms / 1000, tz=UTC)).total_seconds()
        for created, report_ms in CallEvent.objects.filter(
            source=CallEvent.Source.WEBHOOK, kind=CallEvent.Kind.SIGNAL,
            report_ms__gte=since_ms, report_ms__lt=until_ms,
        ).values_list("created_at", "report_ms")
    ]  # fmt: skip


def _settle(fleet: Fleet, *, timeout: float) -> list[int]:
    """Wait until the simulator has no notification left to send and every stored one is
    applied (or `timeout` passes); returns the report_ms of the call states still not applied."""
    from telephony.models import WebhookEvent

    waiting = WebhookEvent.objects.filter(
        status__in=(WebhookEvent.Status.RECEIVED, WebhookEvent.Status.PROCESSING)
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not fleet.ledger()["webhooks"]["pending"] and not waiting.exists():
            return []
        time.sleep(0.5)
    states = waiting.filter(body__payload__state__isnull=False)
    return [
        report_ms
        for report_ms in states.values_list("body__payload__report_ms", flat=True)
        if isinstance(report_ms, int)
    ]


class Churn(threading.Thread):
    """Callees hanging up at a steady rate (live / mean_call_seconds a second, oldest answered
    first, through the simulator's control path) while the campaign refills their places: the
    events a contact center carrying this many calls receives every second."""

    def __init__(self, fleet: Fleet, *, live: int, mean_call_seconds: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{fleet.simulator_url}/_simulator/callee-hangups"
        self.per_second = live / mean_call_seconds
        self.stopping = threading.Event()
        self.hung_up = 0

    def run(self) -> None:
        owed, began = 0.0, time.monotonic()
        with httpx.Client(timeout=30) as http:
            while not self.stopping.wait(max(0.0, began + 1 - time.monotonic())):
                began = time.monotonic()
                owed += self.per_second
                count, owed = int(owed), owed - int(owed)
                if count:
                    answer = http.post(self.url, json={"count": count})
                    answer.raise_for_status()
                    self.hung_up += len(answer.json()["hung_up"])

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def live_scale(
    fleet: Fleet, *, counts: tuple[int, ...], web_url: str, window: float, mean_call_seconds: float
) -> dict:
    """N calls live at once, webhooks on, held for a window in which callees hang up at the
    rate calls of `mean_call_seconds` end and the campaign refills their places: how late our
    rows follow Agora's events while carrying N calls, how fast the busiest pages answer, and
    the CPU each live call costs. The ramp to N (every call placed at once) is reported apart."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from campaigns.services.campaigns import campaign_cancel, campaign_start
    from telephony.models import Call
    from telephony.states import CallStatus

    results = []
    for live in counts:
        fleet.fresh_state()
        fleet.simulator_config(max_concurrent_calls=live, webhook_url=f"{web_url}/webhooks/agora/")
        import_caller(fleet)
        fleet.configure(AGORA_MAX_CONCURRENT_CALLS=str(live), DISPATCH_INTERVAL="1")
        _start_app(fleet, workers=2, concurrency=4, dispatchers=1)
        # The places freed in the window are refilled from contacts beyond the first N.
        spare = math.ceil(1.25 * window * live / mean_call_seconds) + 10
        campaign = make_campaign(
            f"Scale {live}",
            # 7,000 numbers to an area code (the exchange digits run out), all on Pacific time
            [
                callee(index % 7000, outcome=4, area=(628, 650, 707)[index // 7000])
                for index in range(live + spare)
            ],
            cap=live,
        )
        started, ramp_from_ms = time.monotonic(), int(time.time() * 1000)
        campaign_start(campaign=campaign)
        wait_until(
            lambda: Call.objects.filter(status=CallStatus.ANSWERED).count() >= live,  # noqa: B023
            timeout=60 + live,
            message=f"{live} calls to be answered and known to be",
        )
        reached = time.monotonic() - started
        staff = get_user_model().objects.create_superuser(
            f"scale-{uuid.uuid4().hex[:6]}", "scale@example.com", uuid.uuid4().hex
        )
        client = Client(HTTP_HOST="localhost")
        client.force_login(staff)
        app_before, busy_before, began = _app_cpu(fleet), _machine_busy(), time.monotonic()
        window_from_ms = int(time.time() * 1000)
        churn = Churn(fleet, live=live, mean_call_seconds=mean_call_seconds)
        churn.start()
        pages: dict[str, list[float]] = {"dashboard": [], "call list": []}
        live_seen: list[int] = []
        while time.monotonic() - began < window:
            for name, url in (("dashboard", "/admin/dashboard/"),
                              ("call list", "/admin/telephony/call/")):  # fmt: skip
                asked = time.perf_counter()
                if client.get(url).status_code != 200:
                    raise RuntimeError(f"GET {url} failed with {live} live calls")
                pages[name].append(time.perf_counter() - asked)
            live_seen.append(fleet.ledger()["calls"]["live"])
            time.sleep(1)
        churn.stop()
        elapsed = time.monotonic() - began
        window_to_ms = int(time.time() * 1000)
        app_cpu, busy = _app_cpu(fleet) - app_before, _machine_busy() - busy_before
        # The window's events still on their way (sent late, or waiting for a drain) are
        # waited for: an event not yet applied must not drop out of the lag figures.
        unapplied = _settle(fleet, timeout=max(30.0, 3 * window))
        lags = _state_lags(since_ms=window_from_ms, until_ms=window_to_ms) + [
            (datetime.now(UTC) - datetime.fromtimestamp(report_ms / 1000, tz=UTC)).total_seconds()
            for report_ms in unapplied
            if window_from_ms <= report_ms < window_to_ms
        ]  # a lower bound for each event still not applied
        ramp_lags = _state_lags(since_ms=ramp_from_ms, until_ms=window_from_ms)
        stages = _webhook_stages(since_ms=window_from_ms, until_ms=window_to_ms)
        campaign_cancel(campaign=campaign, hang_up=True)
        results.append(
            {
                "live_calls": live,
                "seconds_to_all_answered": round(reached, 1),
                "not_applied_after_settling": len(unapplied),
                "mean_call_seconds": mean_call_seconds,
                "callee_hangups": churn.hung_up,
                "live_min": min(live_seen),
                "live_mean": round(sum(live_seen) / len(live_seen), 1),
                "state_lag_p50_seconds": _round(percentile(lags, 0.5), 3),
                "state_lag_p95_seconds": _round(percentile(lags, 0.95), 3),
                "events": len(lags),
                "ramp_state_lag_p50_seconds": _round(percentile(ramp_lags, 0.5), 3),
                "ramp_state_lag_p95_seconds": _round(percentile(ramp_lags, 0.95), 3),
                "ramp_events": len(ramp_lags),
                # where the window's lag is spent: Agora's sending, delivery to our web,
                # waiting for a drain, and applying it
                **stages,
                "dashboard_p95_ms": _round(1000 * (percentile(pages["dashboard"], 0.95) or 0), 1),
                "call_list_p95_ms": _round(1000 * (percentile(pages["call list"], 0.95) or 0), 1),
                "window_seconds": round(elapsed, 1),
                # CPU seconds per second, per live call, in milliseconds: the app's processes
                # (web, workers, beat, dispatcher) and the whole machine (with PostgreSQL,
                # Redis and the simulator).
                "app_cpu_ms_per_live_call_second": _round(1000 * app_cpu / elapsed / live, 3),
                "machine_cpu_ms_per_live_call_second": _round(1000 * busy / elapsed / live, 3),
            }
        )
    # Held: state lag p95 under 2 s while the refills kept the calls at N (the mean live count
    # within 5% of N: a machine that could not place fast enough would carry fewer).
    held = [
        r["live_calls"]
        for r in results
        if (r["state_lag_p95_seconds"] or 99) < 2 and r["live_mean"] >= 0.95 * r["live_calls"]
    ]
    return {
        "runs": results,
        "largest_with_lag_p95_under_2s": max(held) if held else None,
        "measured": list(counts),
    }
