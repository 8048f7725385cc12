"""`make bench`: measure the contact center on this machine and publish the figures.

Runs against PostgreSQL (a database of its own, `contactcenter_bench`, made afresh), Redis
(database 10 unless BENCH_REDIS_URL says otherwise), real Celery worker processes, gunicorn and
the simulator server. Writes docs/benchmarks.json, docs/benchmarks.md and
docs/benchmarks-live-calls.png. `--quick` runs every measurement small (a smoke run; it writes
under var/bench/ instead of docs/, or where `--out` says).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.fleet import Fleet
from tests.support.processes import BASE_DIR, options

# Agora sends notifications for many calls at once; the simulator's pool of senders must not be
# the bottleneck of the live-call figures (its own delay is reported apart, as "sending").
WEBHOOK_SENDERS = 32

FULL = {
    "throughput_calls": 2000,
    "utilisation_contacts": 240,
    "utilisation_cap": 20,
    "talk_seconds": 5,
    "import_rows": 100_000,
    "export_rows": 100_000,
    "ingest_seconds": 10,
    "polling_live": 500,
    "polling_seconds": 150,  # longer than the slowest poll (CALL_POLL_MAX_INTERVAL_SECONDS)
    "growth_rows": (10_000, 1_000_000),
    "scale_live": (500, 1_000, 2_000, 5_000),
    "scale_window": 60,
    "scale_mean_call_seconds": 120,  # callees hang up at live / 120 a second in the window
    "retention_rows": 1_000_000,
}
STEP_NAMES = [
    "throughput", "utilisation", "ingest", "import", "export", "polling", "queries", "growth",
    "contention", "scale", "retention",
]  # fmt: skip
QUICK = {
    "throughput_calls": 100,
    "utilisation_contacts": 30,
    "utilisation_cap": 5,
    "talk_seconds": 2,
    "import_rows": 2_000,
    "export_rows": 2_000,
    "ingest_seconds": 2,
    "polling_live": 20,
    "polling_seconds": 20,
    "growth_rows": (1_000, 5_000),
    "scale_live": (20, 50),
    "scale_window": 5,
    "scale_mean_call_seconds": 10,
    "retention_rows": 20_000,
}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def version(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            return "not found"
        return (out.stdout or out.stderr).strip().splitlines()[0]

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": version(["psql", "--version"]),
        "redis": version(["redis-server", "--version"]),
    }


def plot(series: list[tuple[float, int]], cap: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 3.6), dpi=110)
    axes.step([s for s, _ in series], [n for _, n in series], where="post", color="#2563eb",
              linewidth=1.4, label="live calls (simulator's record)")  # fmt: skip
    axes.axhline(cap, color="#b91c1c", linestyle="--", linewidth=1.2, label=f"cap ({cap})")
    axes.set_xlabel("seconds since the first call")
    axes.set_ylabel("live calls")
    axes.set_ylim(0, cap * 1.25)
    axes.set_title("Live calls against the cap over a campaign's run")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower center")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".")
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


INGEST_TARGET = "ratio ≥ 0.7, p99 ≤ 25 ms"


def _target(met: bool, target: str) -> str:
    return f"{target}: {'met' if met else '**not met**'}"


def _growth_lines(g: dict | None) -> list[str]:
    if not g:
        return []
    small, large = (str(size) for size in g["sizes"])
    return [
        f"**Cost as data grows.** p95 of {growth_repeats()} requests (in-process, Django's test "
        f"client) with every table at {_fmt(int(small))} rows and again at {_fmt(int(large))} "
        f"({g['rows']}; made in PostgreSQL in {g['seeding_seconds'][large]} s). Target: each "
        f"within 2 times its figure at {_fmt(int(small))} rows: "
        f"{'met' if g['within_2x'] else '**not met**'}.",
        "",
        f"| page | {_fmt(int(small))} rows | {_fmt(int(large))} rows | ratio |",
        "|---|---|---|---|",
        *(
            f"| {name} | {_fmt(by[small], ' ms')} | {_fmt(by[large], ' ms')} | "
            f"{_fmt(g['ratios'].get(name))} |"
            for name, by in g["p95_ms"].items()
        ),
        "",
    ]


def _scale_lines(x: dict | None) -> list[str]:
    if not x:
        return []
    largest = x["largest_with_lag_p95_under_2s"]
    return [
        "**Live-call scale.** N calls live at once (the cap at N), webhooks on (the simulator "
        "notifying gunicorn). Once every call is answered and known to be, the calls are held "
        "for the window while callees hang up at the rate calls lasting "
        f"{_fmt(x['runs'][0]['mean_call_seconds'], ' s')} on average end (N / that many a "
        "second, oldest first) and the campaign refills their places: the events a contact "
        "center carrying N calls receives. Measured in the window: state lag (Agora's event "
        "time to our row updated, every webhook-reported call event of the window), the live "
        "count (the simulator's, once a second), the dashboard and the call list (in-process, "
        "each fetched once a second), and CPU per live call (ms of CPU per second per live "
        "call: the app's processes, and the whole machine with PostgreSQL, Redis and the "
        "simulator). The ramp to N (every call placed at once, no churn) is reported apart. "
        "Largest count measured with state lag p95 under 2 s and the live count kept within "
        "5% of N: "
        f"{_fmt(largest) if largest else 'none of ' + str(x['measured'])}.",
        "",
        "Where the window's lag is spent (p50 / p95 of its stored notifications): the "
        "simulator's sending (Agora's side: the event to its notifyMs; it sends for "
        f"{WEBHOOK_SENDERS} calls at once), delivery to our web, waiting for a drain, and "
        "applying (claim to processed, behind the events before it in its batch).",
        "",
        "| live calls | ramp: all answered after, state lag p50 / p95 | callee hang-ups, "
        "live mean / min | state lag p50 / p95 | sending | delivery | queued | applying "
        "| dashboard p95 | call list p95 | CPU per live call: app / machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {_fmt(r['live_calls'])} | {_fmt(r['seconds_to_all_answered'], ' s')}, "
            f"{_fmt(r['ramp_state_lag_p50_seconds'], ' s')} / "
            f"{_fmt(r['ramp_state_lag_p95_seconds'], ' s')} | {_fmt(r['callee_hangups'])}, "
            f"{_fmt(r['live_mean'])} / {_fmt(r['live_min'])} | "
            f"{_fmt(r['state_lag_p50_seconds'], ' s')} / {_fmt(r['state_lag_p95_seconds'], ' s')} "
            + "".join(
                f"| {_fmt(r.get(f'webhook_{stage}_p50_seconds'), ' s')} / "
                f"{_fmt(r.get(f'webhook_{stage}_p95_seconds'), ' s')} "
                for stage in ("sending", "delivery", "queued", "applying")
            )
            + f"| {_fmt(r['dashboard_p95_ms'], ' ms')} | {_fmt(r['call_list_p95_ms'], ' ms')} | "
            f"{_fmt(r['app_cpu_ms_per_live_call_second'], ' ms/s')} / "
            f"{_fmt(r['machine_cpu_ms_per_live_call_second'], ' ms/s')} |"
            for r in x["runs"]
        ),
        "",
    ]


def _contention_lines(c: dict | None) -> list[str]:
    if not c or "kept" not in c:
        return []
    k = c["kept"]
    return [
        "**Under contention.** Placement and webhook ingest measured again while a CPU-bound "
        "process kept one of the cores busy; the share of its quiet rate each path kept: "
        f"placement, the app {_fmt(k['placement_app'])} against the bare loop "
        f"{_fmt(k['placement_baseline'])} ({_fmt(c['placement']['calls_per_second'])} calls/s, "
        f"ratio {_fmt(c['placement']['ratio'])}); ingest, the app {_fmt(k['ingest_app'])} "
        f"against the bare view {_fmt(k['ingest_baseline'])} "
        f"({_fmt(c['ingest']['webhooks']['requests_per_second'])} req/s, ratio "
        f"{_fmt(c['ingest']['ratio'])}). Target: the app's path degrades no more than its "
        "baseline: "
        + (
            "met."
            if k["placement_app"] >= k["placement_baseline"]
            and k["ingest_app"] >= k["ingest_baseline"]
            else "**not met**."
        ),
        "",
    ]


def _retention_lines(r: dict | None) -> list[str]:
    if not r:
        return []
    quiet, during = r["ingest_quiet"], r["ingest_pruning"]
    return [
        f"**Retention.** {r['rows']:,} processed webhook events older than their time, pruned "
        f"by `contactcenter.retention` in its own process (batches of {r['batch_size']:,} rows, "
        f"each its own transaction, {_fmt(r.get('batch_pause_seconds', 0))} s apart): "
        f"{r['pruned']:,} deleted in {_fmt(r['prune_seconds'])} s "
        f"({_fmt(r['pruned_per_second'])} rows/s; {r['left']:,} left). Webhook ingest (8 "
        f"clients) without pruning: {_fmt(quiet['requests_per_second'])} req/s, p99 "
        f"{_fmt(quiet['p99_ms'])} ms; while pruning: {_fmt(during['requests_per_second'])} "
        f"req/s, p99 {_fmt(during['p99_ms'])} ms, errors {during['errors']}.",
        "",
    ]


def growth_repeats() -> int:
    from tests.support.bench.growth import REPEATS

    return REPEATS


def _rounds_line(figure: dict, rate: str, unit: str) -> str:
    rounds = figure.get("rounds") or []
    if len(rounds) < 2:
        return ""
    each = "; ".join(f"{_fmt(one[rate])} {unit}, ratio {_fmt(one['ratio'])}" for one in rounds)
    return (
        f"Measured {len(rounds)} times, the app and its baseline in turn; the table shows the "
        f"round with the median ratio. Every round: {each}."
    )


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return round(value / baseline, 4) if value is not None and baseline else None


def markdown(results: dict) -> str:
    m, r = results["machine"], results["results"]
    t, u, i, w, p, q = (r[k] for k in ("throughput", "utilisation", "import", "ingest",
                                         "polling", "queries"))  # fmt: skip
    e = r.get("export")
    operations = ", ".join(f"{k} {v}" for k, v in p["by_operation"].items())
    # What replacing webhooks by polling costs: voicemail detection's looks are left out (the
    # detector makes them whether webhooks are on or off; they are shown beside).
    polling = p.get("requests_per_live_call_per_minute_without_detection")
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {results['date']} (took {results['seconds']:.0f} s). "
        "Every figure sits beside a baseline measured in the same run on the same machine. "
        "Raw figures: [benchmarks.json](benchmarks.json).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; "
        f"Python {m['python']}; {m['postgresql']}; {m['redis']}. Everything ran on it at once: "
        "PostgreSQL, Redis, the simulator server, gunicorn, the Celery workers and beat, and the "
        "load generators.",
        "",
        "| figure | measured | baseline | ratio | target (issue 18) |",
        "|---|---|---|---|---|",
        f"| placement throughput (dispatcher → Celery on Redis → client → simulator) | "
        f"{_fmt(t['calls_per_second'])} calls/s | bare httpx loop: "
        f"{_fmt(t['baseline_calls_per_second'])} calls/s | {_fmt(t['ratio'])} | "
        f"{_target(t['ratio'] >= 0.25, 'ratio ≥ 0.25')} |",
        f"| concurrency utilisation while contacts remain | {_fmt(u['utilisation'])} of the cap "
        f"| 1.0 (the cap) | {_fmt(u['utilisation'])} | "
        f"{_target((u['utilisation'] or 0) >= 0.985, '≥ 0.985')} |",
        f"| refill latency after a hang-up, p50 / p95 | {_fmt(u['refill_p50_seconds'], ' s')} / "
        f"{_fmt(u['refill_p95_seconds'], ' s')} | 0 s | | "
        f"{_target((u['refill_p95_seconds'] or 99) <= 0.4, 'p95 ≤ 0.4 s')} |",
        f"| contact import, {_fmt(i['rows'])} rows | {_fmt(i['rows_per_second'])} rows/s, peak "
        f"{_fmt(i['peak_rss_mb'])} MB | PostgreSQL COPY: {_fmt(i['baseline_rows_per_second'])} "
        f"rows/s | {_fmt(i['ratio'])} | "
        f"{_target(i['seconds'] <= 3 and i['peak_rss_mb'] <= 150, '≤ 3 s, peak ≤ 150 MB')} "
        f"({_fmt(i['seconds'], ' s')}) |",
        *(
            [
                f"| campaign results export (CSV), {_fmt(e['rows'])} contacts | "
                f"{_fmt(e['rows_per_second'])} rows/s, peak {_fmt(e['peak_rss_mb'])} MB | | | |"
            ]
            if e
            else []
        ),
        f"| webhook ingest under gunicorn | {_fmt(w['webhooks']['requests_per_second'])} req/s, "
        f"p99 {_fmt(w['webhooks']['p99_ms'], ' ms')} | bare Django view, same POSTs: "
        f"{_fmt(w['bare_view']['requests_per_second'])} req/s, p99 "
        f"{_fmt(w['bare_view']['p99_ms'], ' ms')} | {_fmt(w['ratio'])} | "
        f"{_target(w['ratio'] >= 0.7 and w['webhooks']['p99_ms'] <= 25, INGEST_TARGET)} |",
        f"| polling cost, {_fmt(p['live_calls'])} live calls, webhooks off | "
        f"{_fmt(polling)} API requests per live call per minute for polling "
        f"(status alone: {_fmt(p['status_requests_per_live_call_per_minute'])}; with voicemail "
        f"detection's looks, made with webhooks on too: "
        f"{_fmt(p['requests_per_live_call_per_minute'])}) "
        f"| one GET per call per poll: {_fmt(p['baseline_requests_per_live_call_per_minute'])} "
        f"| {_fmt(_ratio(polling, p['baseline_requests_per_live_call_per_minute']))} | "
        f"{_target(polling is not None and polling <= 0.4, '≤ 0.4')} |",
        "",
        "![Live calls against the cap](benchmarks-live-calls.png)",
        "",
        "## Details",
        "",
        f"**Placement throughput.** {_fmt(t['calls'])} contacts of one campaign, every call "
        f"talking until hung up (so the cap never binds), workers {t['workers']}; from "
        f"`campaign_start` until the simulator had accepted every call: {_fmt(t['seconds'])} s. "
        f"Baseline: {t['baseline']}. Duplicate channels at the simulator: "
        f"{t['duplicate_channels']}. {_rounds_line(t, 'calls_per_second', 'calls/s')}",
        "",
        f"**Utilisation and refill.** {_fmt(u['contacts'])} contacts, cap {u['cap']}, each "
        f"call talking {u['talk_seconds']} s; calls end by the simulator's webhooks to the app "
        f"under gunicorn (polling as the safety net). Utilisation is the mean of live calls "
        f"(sampled every 0.25 s from the simulator's record) over the cap, from the first call "
        f"to the last placement. Refill latency: the k-th call to end frees the place the "
        f"(cap+k)-th call takes; the gap between the two ({u['refills']} refills). Peak live "
        f"calls {u['peak_live']}, moments over the cap {u['over_cap_moments']}, finished in "
        f"{_fmt(u['seconds_to_finish'], ' s')}. Where a freed place's wait goes, p50 / p95: "
        + "; ".join(
            f"{label} {_fmt(u.get(f'refill_{stage}_p50_seconds'), ' s')} / "
            f"{_fmt(u.get(f'refill_{stage}_p95_seconds'), ' s')}"
            for stage, label in REFILL_STAGES
        )
        + ".",
        "",
        f"**Contact import.** A {_fmt(i['rows'])}-row CSV through the import service in a "
        f"process of its own ({_fmt(i['imported'])} imported, {_fmt(i['invalid'])} invalid) in "
        f"{_fmt(i['seconds'], ' s')}; the process's resident memory was "
        f"{_fmt(i['rss_before_import_mb'])} MB before the import and at most "
        f"{_fmt(i['peak_rss_mb'])} MB while it ran (sampled every 20 ms; the file is streamed "
        f"and written in batches). Baseline: {i['baseline']}.",
        "",
        *(
            [
                f"**Results export.** A finished campaign of {_fmt(e['rows'])} contacts (half of "
                "them called, each call analysed with two extracted fields; one number in a "
                "hundred on the do-not-call list), exported as CSV by "
                "`analysis.results.results_csv` in a process of its own: "
                f"{_fmt(e['rows'])} rows ({_fmt(e['megabytes'])} MB) in "
                f"{_fmt(e['seconds'], ' s')}; resident memory {_fmt(e['rss_before_export_mb'])} MB "
                f"before and at most {_fmt(e['peak_rss_mb'])} MB while it streamed (read in chunks "
                "of 2,000 rows).",
                "",
            ]
            if e
            else []
        ),
        f"**Webhook ingest.** {w['clients']} client threads with keep-alive connections for "
        f"{_fmt(w['webhooks']['seconds'], ' s')}, each request a new signed notification (HMAC "
        "verified, stored once, processing queued on Redis); every answered request was stored "
        f"({_fmt(w['stored'])} rows). p50 {_fmt(w['webhooks']['p50_ms'], ' ms')}. Baseline: "
        f"{w['baseline']}, p50 {_fmt(w['bare_view']['p50_ms'], ' ms')}. For reference, "
        f"GET /livez/ (a view that reads no body) answered "
        f"{_fmt(w['bare_get']['requests_per_second'])} req/s, p99 "
        f"{_fmt(w['bare_get']['p99_ms'], ' ms')} (the ingest's ratio to it: "
        f"{_fmt(w['ratio_to_get'])}); the load generator runs on the same two cores and a GET "
        "costs it less than a signed POST, so the POST view is the like-for-like baseline. "
        + _rounds_line(w, "requests_per_second", "req/s"),
        "",
        f"**Polling cost.** {_fmt(p['live_calls'])} answered calls, webhooks off, default "
        f"polling settings, counted at the simulator over {_fmt(p['seconds'], ' s')}: "
        f"{_fmt(p['requests'])} requests ({operations}). Status comes from listing calls "
        "(one request answers for many); most requests are transcript snapshots "
        "(`get_agent_history`): Agora serves an agent's history only while it runs, so with "
        "webhooks off the transcript is saved while the call talks (with webhooks on, the "
        f"end-of-call notification carries it). Each look is merged into the transcript "
        "(Agora's history holds only the newest `llm.max_history` messages); transcripts with "
        f"a gap between two looks: {_fmt(p.get('transcripts_with_a_gap'))} of "
        f"{_fmt(p.get('transcripts_kept'))}. Of the history looks, "
        f"{_fmt(p.get('voicemail_detection_looks'))} were voicemail detection's, in a call's "
        "first seconds after its answer (VOICEMAIL_DETECTION_POLL_SECONDS). The detector makes "
        "them whether webhooks are on or off (and they double as a call's first snapshots), so "
        "the figure judged against the target leaves them out: polling's own cost is "
        f"{_fmt(polling)} requests per live call per minute; with them, "
        f"{_fmt(p['requests_per_live_call_per_minute'])} (the window starts when all calls "
        "are answered, so it holds every call's detection looks: a real campaign pays them "
        f"once per answered call). Baseline: {p['baseline']}.",
        "",
        "**Query counts** per page (first page of each list), at 10 and at 1,000 rows per "
        f"table; flat: {'yes' if q['flat'] else 'NO'}.",
        "",
        "| page | 10 rows | 1,000 rows |",
        "|---|---|---|",
        *(
            f"| {name} | {sizes.get('10', 'n/a')} | {sizes.get('1000', 'n/a')} |"
            for name, sizes in q["pages"].items()
        ),
        "",
        *_scale_lines(r.get("scale")),
        *_contention_lines(r.get("contention")),
        *_retention_lines(r.get("retention")),
        *_growth_lines(r.get("growth")),
        "Run it again with `make bench` (about 35 minutes; nothing else should run meanwhile).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Measure and publish the benchmark figures.")
    parser.add_argument("--quick", action="store_true", help="small sizes, output under var/")
    parser.add_argument("--out", type=Path, help="where to write (default: docs/, or var/bench/)")
    parser.add_argument(
        "--only",
        help="comma-separated measurements to run (e.g. ingest,polling); prints their figures "
        "as JSON and writes nothing (for working on one figure)",
    )
    parser.add_argument(
        "--scale-live", help="comma-separated live-call counts for the live-call scale figure"
    )
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    if wanted and wanted - set(STEP_NAMES):
        raise SystemExit(f"--only: unknown {sorted(wanted - set(STEP_NAMES))}; known: {STEP_NAMES}")
    sizes = dict(QUICK if args.quick else FULL)
    if args.scale_live:
        sizes["scale_live"] = tuple(int(count) for count in args.scale_live.split(","))
    out = args.out or BASE_DIR / ("var/bench" if args.quick else "docs")
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
    require_redis(redis_url)
    fleet = Fleet.create(
        name=os.environ.get("BENCH_DATABASE", "contactcenter_bench"),
        redis_url=redis_url,
        workdir=BASE_DIR / "var" / "bench-run",
        # Rounds call the same test numbers again: the call limits per number are counted
        # (their cost is measured), never reached.
        NUMBER_CALLS_PER_24H="1000",
        SKIP_PUBLIC_HOLIDAYS="false",  # runs on any day: a holiday must not change its figures
    )
    fleet.setup_django()
    steps = _steps()
    results: dict = {}
    try:
        fleet.start_simulator("--max-concurrent-calls", "20", "--threads", "32",
                              "--webhook-senders", str(WEBHOOK_SENDERS),
                              *options(webhook_secret=os.environ.get("AGORA_WEBHOOK_SECRET") or
                                       _setting("AGORA_WEBHOOK_SECRET")))  # fmt: skip
        web_url = fleet.start_web(
            workers=2, threads=4, DJANGO_SETTINGS_MODULE="tests.support.bench.web_settings"
        )
        for key, (title, run) in steps.items():
            if wanted is None or key in wanted:
                step(fleet, title)
                results[key] = run(fleet, sizes, web_url, results)
    finally:
        fleet.stop_all()
    if wanted is not None:
        results.get("utilisation", {}).pop("series", None)
        print(json.dumps(results, indent=2))
        return 0
    series = results["utilisation"].pop("series")
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - began, 1),
        "quick": args.quick,
        "machine": machine(),
        "sizes": sizes,
        "results": results,
        "live_calls_series": series,
    }
    (out / "benchmarks.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(series, results["utilisation"]["cap"], out / "benchmarks-live-calls.png")
    (out / "benchmarks.md").write_text(markdown(report))
    print((out / "benchmarks.md").read_text())
    return 0


REFILL_STAGES = (
    ("sending", "the simulator sending the hang-up"),
    ("delivery", "its delivery to our web"),
    ("queued", "waiting for a drain"),
    ("applying", "applied by the drain (after the batch's events ahead of it)"),
    ("placing", "from then to the next call reaching the simulator (the outcome, the dispatch, "
     "the placement)"),
)  # fmt: skip


def _steps() -> dict:
    from tests.support.bench import growth, queries, scenarios

    return {
        "throughput": (
            "placement throughput",
            lambda fleet, sizes, web_url, results: scenarios.placement_throughput(
                fleet, calls=sizes["throughput_calls"], workers=2, concurrency=4
            ),
        ),
        "utilisation": (
            "concurrency utilisation and refill",
            lambda fleet, sizes, web_url, results: scenarios.utilisation(
                fleet,
                contacts=sizes["utilisation_contacts"],
                cap=sizes["utilisation_cap"],
                talk=sizes["talk_seconds"],
                web_url=web_url,
            ),
        ),
        "ingest": (
            "webhook ingest",
            lambda fleet, sizes, web_url, results: scenarios.webhook_ingest(
                fleet, web_url=web_url, seconds=sizes["ingest_seconds"], clients=8
            ),
        ),
        "import": (
            "contact import",
            lambda fleet, sizes, web_url, results: scenarios.contact_import(
                fleet, rows=sizes["import_rows"]
            ),
        ),
        "export": (
            "results export",
            lambda fleet, sizes, web_url, results: scenarios.results_export(
                fleet, rows=sizes["export_rows"]
            ),
        ),
        "polling": (
            "polling cost",
            lambda fleet, sizes, web_url, results: scenarios.polling_cost(
                fleet, live=sizes["polling_live"], seconds=sizes["polling_seconds"]
            ),
        ),
        "queries": ("query counts", lambda fleet, sizes, web_url, results: queries.query_counts()),
        "contention": (
            "placement and ingest with one core busy",
            lambda fleet, sizes, web_url, results: scenarios.under_contention(
                fleet, sizes=sizes, web_url=web_url, quiet=results
            ),
        ),
        "scale": (
            "live-call scale",
            lambda fleet, sizes, web_url, results: scenarios.live_scale(
                fleet,
                counts=tuple(sizes["scale_live"]),
                web_url=web_url,
                window=sizes["scale_window"],
                mean_call_seconds=sizes["scale_mean_call_seconds"],
            ),
        ),
        "retention": (
            "retention pruning beside webhook ingest",
            lambda fleet, sizes, web_url, results: scenarios.retention_pruning(
                fleet,
                web_url=web_url,
                rows=sizes["retention_rows"],
                seconds=sizes["ingest_seconds"],
                clients=8,
            ),
        ),
        "growth": (
            "cost as data grows",
            lambda fleet, sizes, web_url, results: growth.data_growth(tuple(sizes["growth_rows"])),
        ),
    }


def require_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        raise SystemExit(
            f"Redis is not reachable at {url} (BENCH_REDIS_URL): start it as for the tests "
            f"(see .ci/run). {error}"
        ) from None


def _setting(name: str) -> str:
    from django.conf import settings

    return getattr(settings, name)


def step(fleet: Fleet, name: str) -> None:
    """Each measurement starts from an empty database, Redis and simulator."""
    print(f"[bench] {datetime.now(UTC):%H:%M:%S} {name}", file=sys.stderr, flush=True)
    fleet.fresh_state()


if __name__ == "__main__":
    sys.exit(main())
