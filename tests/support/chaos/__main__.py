"""`make chaos`: run campaigns through faults, with real processes, and count what went wrong.

Each scenario starts from an empty database, its own Redis server (so that it can be restarted),
the simulator server, gunicorn (Agora's webhooks land there), two Celery workers, beat and, for
some scenarios, extra dispatchers. A campaign calls contacts in two time zones: those whose
calling window is open now, and those whose window is closed (they must wait, not be called).
While it runs, the scenario's fault is applied; then the simulator's record of every call it
accepted is checked against the database. Each scenario prints

    duplicates: N      calls beyond a contact's attempts, or one call placed twice
    over-cap: N        calls the simulator accepted while the cap was already full
    lost: N            calls the simulator placed that the app does not know
    stuck: N           calls not ended, and due contacts not finished, by the deadline
    outside-window: N  calls placed outside the contact's window (in its own time zone), or
                       to a contact whose region's rules allow no calls
    over-limit: N      calls beyond the call limit per number (LIMIT in 24 hours) counted
                       over every call the simulator accepted, campaign and single calls

and the run exits non-zero when any of these is not 0.

    python -m tests.support.chaos                 # every scenario
    python -m tests.support.chaos worker-kill     # some of them
"""

import argparse
import os
import random
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.support.fleet import Fleet, duplicate_dials, over_cap_moments, utc
from tests.support.processes import BASE_DIR, free_port, options, wait_for

WEBHOOK_FAULTS = ("duplicated", "reordered", "dropped")
INVARIANTS = ("duplicates", "over-cap", "lost", "stuck", "outside-window", "over-limit")
CAP = 5
ATTEMPTS = 2
LIMIT = ATTEMPTS  # calls per number per 24 hours
# Settings of every app process: short timeouts and leases so recovery shows within minutes.
APP_SETTINGS = {
    "DISPATCH_INTERVAL": "1",
    "CALL_POLL_INTERVAL": "1",
    "CALL_POLL_AFTER_SECONDS": "3",
    "CALL_PLACEMENT_LEASE_SECONDS": "10",
    "CELERY_VISIBILITY_TIMEOUT": "30",
    "AGORA_CONNECT_TIMEOUT": "2",
    "AGORA_READ_TIMEOUT": "3",
    "AGORA_MAX_CONCURRENT_CALLS": str(CAP),
    # As many calls per number as a contact's attempts: a retry is its number's last call in
    # 24 hours (each scenario starts from an empty database). The rules scenario's single calls
    # race the campaign for that last call.
    "NUMBER_CALLS_PER_24H": str(LIMIT),
    # Runs on whatever day it is: a holiday in one of its countries must not stop its calls.
    "SKIP_PUBLIC_HOLIDAYS": "false",
}
# (zone, number for index/talk/outcome): the simulator's rules read the last three digits.
ZONES = {
    "Europe/London": lambda i, talk, outcome: f"+44207{i:04d}{talk:02d}{outcome}",
    "America/New_York": lambda i, talk, outcome: f"+1212{200 + i // 10}{i % 10}{talk:02d}{outcome}",
    "Asia/Tokyo": lambda i, talk, outcome: f"+813{5000 + i:04d}0{talk:02d}{outcome}",
    "Australia/Sydney": lambda i, talk, outcome: f"+612{9000 + i:04d}0{talk:02d}{outcome}",
}
# talk seconds, outcome digit (0 answers, 1 never answers, 2 busy, 3 fails)
MIX = [(3, 0), (2, 0), (0, 1), (0, 2), (4, 0), (0, 3), (2, 0), (0, 1)]
# The rules scenario: contacts of the open zone whose own region (France) has a rule allowing
# no calls on any day; they must be held back, never called, whatever their number's zone.
CLOSED_REGION = "FR"


# -- the campaign ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    window_start: clock
    window_end: clock
    open_zone: str
    closed_zone: str


def plan_window(now: datetime) -> Plan:
    """A window open now in one zone (for the next two hours at least) and closed in another
    (for at least the next two hours)."""
    for open_zone in ZONES:
        local = now.astimezone(ZoneInfo(open_zone))
        if not 2 <= local.hour <= 20:
            continue
        start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
        end = (local + timedelta(hours=2, minutes=30)).time().replace(second=0, microsecond=0)
        for closed_zone in ZONES:
            there = now.astimezone(ZoneInfo(closed_zone)).time()
            later = (now + timedelta(hours=2)).astimezone(ZoneInfo(closed_zone)).time()
            if not (start <= there < end) and not (start <= later < end) and there < later:
                return Plan(start, end, open_zone, closed_zone)
    raise RuntimeError("no pair of zones gives an open and a closed window now")


def region_closed_numbers(plan: Plan, *, due: int, count: int) -> list[str]:
    return [ZONES[plan.open_zone](i, *MIX[i % len(MIX)]) for i in range(due, due + count)]


def make_campaign(plan: Plan, *, due: int, waiting: int, cap: int, region_closed: int = 0):
    from campaigns.models import Campaign, Contact, ContactList
    from tests.support.bench.scenarios import caller_and_profile

    caller, profile = caller_and_profile()
    contact_list = ContactList.objects.create(name="Chaos")
    numbers = [ZONES[plan.open_zone](i, *MIX[i % len(MIX)]) for i in range(due)]
    numbers += [ZONES[plan.closed_zone](i, *MIX[i % len(MIX)]) for i in range(waiting)]
    closed = region_closed_numbers(plan, due=due, count=region_closed)
    Contact.objects.bulk_create(
        Contact(contact_list=contact_list, consent=True, phone=number, first_name="Ada",
                region=CLOSED_REGION if number in closed else "")
        for number in numbers + closed
    )  # fmt: skip
    campaign = Campaign.objects.create(
        name="Chaos", agent_profile=profile, max_concurrent_calls=cap,
        max_calls_per_minute=600, max_attempts=ATTEMPTS, retry_delay_no_answer=2,
        retry_delay_busy=2, retry_delay_failed=2, weekdays=list(range(7)),
        window_start=plan.window_start, window_end=plan.window_end,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign.caller_ids.add(caller)
    return campaign


# -- faults ----------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    what: str
    http_faults: dict = field(default_factory=dict)
    webhook_faults: dict = field(default_factory=dict)
    dispatchers: int = 0
    # Regional rules and single calls racing the campaign for each number's last call.
    rules: bool = False
    # Runs in a thread while the campaign does; returns when `stop` is set.
    disrupt: Callable[[Fleet, threading.Event, dict], None] | None = None


def kill_workers(fleet: Fleet, stop: threading.Event, counts: dict) -> None:
    names = ["worker0", "worker1"]
    while not stop.wait(random.uniform(3, 5)):
        name = random.choice(names)
        with suppress(KeyError):  # being restarted by the supervisor just now
            fleet.kill(name)
        counts["workers killed"] = counts.get("workers killed", 0) + 1
        fleet.start_worker(name, concurrency=3)


def restart_redis(fleet: Fleet, stop: threading.Event, counts: dict) -> None:
    """Once, 30 s into the campaign (about a third of the way): Redis goes away for 3 s, every
    queued task with it (this Redis keeps nothing on disk), and comes back empty."""
    if stop.wait(30):
        return
    fleet.kill("redis")
    counts["redis restarts"] = 1
    time.sleep(3)
    start_redis(fleet, port=fleet.redis_port)


def kill_dispatchers(fleet: Fleet, stop: threading.Event, counts: dict) -> None:
    names = [name for name in fleet.processes if name.startswith("dispatcher")]
    while not stop.wait(random.uniform(0.3, 1.2)):
        name = random.choice(names)
        with suppress(KeyError):
            fleet.kill(name)
        counts["dispatchers killed"] = counts.get("dispatchers killed", 0) + 1
        fleet.start_dispatcher(name, interval=0.05)


def single_calls(web_url: str, api_key: str, numbers: list[str], region_closed: list[str]):
    """A thread's work: one single call through the REST API to each number, in a random
    order, 0.3-1.5 s apart, while the campaign calls the same numbers (those in
    `region_closed` say the callee's region, as a CRM that knows it would)."""
    from tests.support.bench.scenarios import CALLER

    def disrupt(fleet: Fleet, stop: threading.Event, counts: dict) -> None:
        order = [(number, "") for number in numbers]
        order += [(number, CLOSED_REGION) for number in region_closed]
        random.shuffle(order)
        with httpx.Client(base_url=web_url, timeout=15,
                          headers={"Authorization": f"Api-Key {api_key}"}) as client:  # fmt: skip
            for number, region in order:
                if stop.wait(random.uniform(0.3, 1.5)):
                    return
                body = {"to_number": number, "caller_id": CALLER, "agent": "Bench agent",
                        "variables": {"first_name": "Ada"}, "callee_region": region}  # fmt: skip
                try:
                    answer = client.post("/api/v1/calls/", json=body)
                except httpx.HTTPError:
                    key = "single calls unanswered"
                else:
                    key = (
                        "single calls booked"
                        if answer.status_code == 201
                        else f"single calls refused ({answer.json()['error']['code']})"
                        if answer.status_code == 422
                        else f"single calls answered {answer.status_code}"
                    )
                counts[key] = counts.get(key, 0) + 1

    return disrupt


SCENARIOS = [
    Scenario("worker-kill", "SIGKILL of a Celery worker (and its pool) every 3-5 s, restarted",
             disrupt=kill_workers),
    Scenario("redis-restart", "Redis killed mid-campaign and restarted empty 3 s later",
             disrupt=restart_redis),
    Scenario("http-5xx", "20% of Agora API requests answered 503 (without effect)",
             http_faults={"error_rate": 0.2}),
    Scenario("lost-responses", "5% of Agora API answers lost (the request took effect)",
             http_faults={"lost_response_rate": 0.05}),
    Scenario("webhook-chaos", "webhooks duplicated (30%) and reordered (30%)",
             webhook_faults={"duplicate_rate": 0.3, "reorder_rate": 0.3, "reorder_delay": 2.0}),
    Scenario("dispatcher-kill", "3 extra dispatchers claiming every 50 ms, one SIGKILLed every "
             "0.3-1.2 s (mid-claim included), restarted", dispatchers=3,
             disrupt=kill_dispatchers),
    Scenario("rules", f"call limits binding ({LIMIT} calls per number per 24 h: single calls "
             "through the API race the campaign's retries for each number's last call), a "
             f"regional rule allowing no calls in {CLOSED_REGION} (contacts of the open zone "
             "there must wait), 3 extra dispatchers claiming every 50 ms", dispatchers=3,
             rules=True),
]  # fmt: skip


# -- the run ---------------------------------------------------------------------------------------


def start_redis(fleet: Fleet, *, port: int) -> None:
    """A Redis server of the fleet's own (nothing on disk), so a scenario may kill it."""
    fleet._start(
        "redis",
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(fleet.workdir)],
        ready="Ready to accept connections",
    )  # fmt: skip


def run(fleet: Fleet, scenario: Scenario, web_url: str, *, due: int, waiting: int) -> dict:
    from django.db.models import Q

    from campaigns.models import CallingHoursRule, CampaignContact
    from campaigns.services.campaigns import campaign_start
    from campaigns.states import OPEN_CONTACT_STATUSES
    from campaigns.windows import CallingWindow, contact_zones, is_open
    from contactcenter.models import ApiKey, ApiScope
    from telephony.models import Call
    from telephony.rules import Rule
    from telephony.states import TERMINAL_STATUSES
    from tests.support.bench.scenarios import import_caller

    fleet.fresh_state()
    fleet.simulator_config(max_concurrent_calls=CAP * 10, webhook_url=f"{web_url}/webhooks/agora/")

    def faults(http: dict, webhooks: dict) -> None:
        httpx.post(
            f"{fleet.simulator_url}/_simulator/faults",
            json={"http": http, "webhooks": webhooks},
            timeout=10,
        ).raise_for_status()

    # The set-up meets no faults (not even the last scenario's): they are the app's to meet.
    faults({}, {})
    import_caller(fleet)
    faults(scenario.http_faults, scenario.webhook_faults)
    for index in range(2):
        fleet.start_worker(f"worker{index}", concurrency=3)
    fleet.start_beat()
    for index in range(scenario.dispatchers):
        fleet.start_dispatcher(f"dispatcher{index}", interval=0.05)

    plan = plan_window(datetime.now(UTC))
    region_closed = due // 4 if scenario.rules else 0
    campaign = make_campaign(
        plan, due=due, waiting=waiting, cap=int(fleet.settings["AGORA_MAX_CONCURRENT_CALLS"]),
        region_closed=region_closed,
    )  # fmt: skip
    window = CallingWindow.for_campaign(
        start=campaign.window_start, end=campaign.window_end, weekdays=campaign.weekdays
    )
    due_numbers = {ZONES[plan.open_zone](i, *MIX[i % len(MIX)]) for i in range(due)}
    closed_numbers = region_closed_numbers(plan, due=due, count=region_closed)
    disrupt = scenario.disrupt
    if scenario.rules:
        CallingHoursRule.objects.create(
            country=CLOSED_REGION, weekdays=list(range(7)), no_calls=True, source="chaos"
        )
        _, api_key = ApiKey.issue(name="chaos CRM", scopes=[ApiScope.CALLS_WRITE])
        disrupt = single_calls(web_url, api_key, sorted(due_numbers), closed_numbers)
    entries = CampaignContact.objects.filter(campaign=campaign)
    started = time.monotonic()
    campaign_start(campaign=campaign)
    stop, supervising, counts = threading.Event(), threading.Event(), {}
    fleet.restarts.clear()
    supervisor = fleet.supervise(supervising)
    chaos = threading.Thread(
        target=disrupt, args=(fleet, stop, counts), daemon=True
    ) if disrupt else None  # fmt: skip
    if chaos:
        chaos.start()

    def due_open() -> int:
        """Due contacts not yet finished, but for those the call limits hold back for a day
        (their number had its last call allowed: a single call took it)."""
        held_for_a_day = Q(
            held_by=Rule.CALL_FREQUENCY, next_attempt_at__gt=datetime.now(UTC) + timedelta(hours=1)
        )
        return (
            entries.filter(contact__phone__in=due_numbers, status__in=OPEN_CONTACT_STATUSES)
            .exclude(held_for_a_day)
            .count()
        )

    finished = None
    try:
        wait_for(lambda: due_open() == 0, timeout=420, interval=1, message="due contacts")
        finished = time.monotonic() - started
    except AssertionError:
        pass
    stop.set()
    if chaos:
        chaos.join(30)

    calls = Call.objects.all()  # the campaign's and any single calls (a fresh database)
    # Every call the simulator ended must end here too; give the app time to hear of it.
    with suppress(AssertionError):
        wait_for(lambda: not calls.exclude(status__in=TERMINAL_STATUSES).exists(), timeout=90,
                 interval=1, message="calls to end")  # fmt: skip

    every_call = fleet.ledger_calls()
    placed = [c for c in every_call if c["labels"].get("campaign_id") == str(campaign.pk)]
    singles = [c for c in every_call if "campaign_id" not in c["labels"]]
    known = set(Call.objects.values_list("channel", flat=True))
    waiting_called = entries.exclude(contact__phone__in=due_numbers).filter(attempts__gt=0)
    per_number = Counter(call["to_number"] for call in every_call)
    results = {
        "contacts": due + waiting + region_closed,
        "due now": due,
        "calls placed": len(placed),
        **({"single calls placed": len(singles)} if scenario.rules else {}),
        "duplicates": duplicate_dials(placed, dict.fromkeys(due_numbers, ATTEMPTS)),
        "over-cap": over_cap_moments(every_call, CAP),
        "lost": sum(1 for call in every_call if call["channel"] not in known),
        "stuck": calls.exclude(status__in=TERMINAL_STATUSES).count() + due_open(),
        "outside-window": sum(
            1
            for call in placed
            if not is_open(utc(call["created_at"]), contact_zones(call["to_number"]), window)
        )
        + waiting_called.count()
        + sum(per_number[number] for number in closed_numbers),
        "over-limit": sum(max(0, count - LIMIT) for count in per_number.values()),
        **(
            {
                "held back by the call limits": entries.filter(held_by=Rule.CALL_FREQUENCY).count(),
                "held back by the regional rule": entries.filter(
                    held_by=Rule.REGIONAL_HOURS, attempts=0
                ).count(),
            }
            if scenario.rules
            else {}
        ),
        "time to finish": f"{finished:.1f} s" if finished is not None else "did not finish",
        **counts,
    }
    ledger = fleet.ledger()
    injected = dict(ledger["requests"]["faults"])
    injected.update(
        {f"webhooks {k}": v for k, v in ledger["webhooks"].items() if k in WEBHOOK_FAULTS and v}
    )
    if injected:
        results["faults injected"] = injected
    supervising.set()
    supervisor.join(70)
    if fleet.restarts:
        results["restarted after exiting by themselves"] = dict(fleet.restarts)
    fleet.stop_all_but("simulator", "web", "redis")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the fault scenarios; exit 1 on any breach.")
    parser.add_argument(
        "scenarios", nargs="*", help=f"default: all of {[s.name for s in SCENARIOS]}"
    )
    parser.add_argument("--due", type=int, default=40, help="contacts whose window is open")
    parser.add_argument("--waiting", type=int, default=8, help="contacts whose window is closed")
    parser.add_argument(
        "--app-cap",
        type=int,
        default=CAP,
        help=f"the cap the app is given (default {CAP}, the one checked): a larger one shows "
        "that the checks catch a breach",
    )
    parser.add_argument(
        "--app-limit",
        type=int,
        default=LIMIT,
        help=f"the call limit per number the app is given (default {LIMIT}, the one checked)",
    )
    parser.add_argument("--report", type=Path, help="also write the results there (markdown)")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    unknown = set(args.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")

    redis_port = free_port()
    fleet = Fleet.create(
        name=os.environ.get("CHAOS_DATABASE", "contactcenter_chaos"),
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        workdir=BASE_DIR / "var" / "chaos-run",
        **{
            **APP_SETTINGS,
            "AGORA_MAX_CONCURRENT_CALLS": str(args.app_cap),
            "NUMBER_CALLS_PER_24H": str(args.app_limit),
        },
    )
    fleet.redis_port = redis_port
    start_redis(fleet, port=redis_port)
    fleet.setup_django()
    from django.conf import settings

    breaches, lines, began = 0, [], time.monotonic()

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    try:
        fleet.start_simulator("--threads", "32", "--ring-timeout", "4",
                              *options(webhook_secret=settings.AGORA_WEBHOOK_SECRET))  # fmt: skip
        web_url = fleet.start_web(workers=2, threads=4)
        for scenario in chosen:
            say(f"\n== {scenario.name}: {scenario.what}")
            results = run(fleet, scenario, web_url, due=args.due, waiting=args.waiting)
            for key, value in results.items():
                say(f"{key}: {value}")
            breaches += sum(1 for key in INVARIANTS if results[key])
    finally:
        fleet.stop_all()
    say(f"\n{'every scenario held' if not breaches else f'{breaches} breaches'}")
    if args.report:
        write_report(args.report, lines, seconds=time.monotonic() - began)
    return 1 if breaches else 0


def write_report(path: Path, lines: list[str], *, seconds: float) -> None:
    from tests.support.bench.__main__ import machine

    m = machine()
    path.write_text(
        "# Chaos runs\n\n"
        f"The latest `make chaos`, on {datetime.now(UTC):%Y-%m-%d %H:%M UTC} (took "
        f"{seconds:.0f} s), on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
        f'{m["postgresql"]}; {m["redis"]}. What each line means: README, "Benchmarks and '
        'chaos".\n\n```\n' + "\n".join(lines).strip() + "\n```\n"
    )


if __name__ == "__main__":
    sys.exit(main())
