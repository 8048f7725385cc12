"""`make bench` and `make chaos` keep working: each runs here small, as a separate process
against PostgreSQL, Redis and real workers (their own database, Redis database 10 and their own
Redis server). The figures themselves are not asserted: only that every measurement ran, the
invariants held, and a breach makes the chaos run fail."""

import json
import subprocess
import sys

import pytest

from tests.support.processes import BASE_DIR

pytestmark = [pytest.mark.services, pytest.mark.real_clock]


def run(*args: str, timeout: float) -> subprocess.CompletedProcess:
    # A clean environment for the child: the suite's settings must not leak into it.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "ENV_FILE": ""}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def test_a_quick_bench_run_measures_everything_and_writes_its_report(tmp_path):
    done = run("tests.support.bench", "--quick", "--out", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads((tmp_path / "benchmarks.json").read_text())
    results = report["results"]
    assert set(results) == {"throughput", "utilisation", "import", "export", "ingest", "polling",
                            "queries", "growth", "contention", "scale", "retention"}  # fmt: skip
    assert results["throughput"]["calls_per_second"] > 0
    assert results["throughput"]["duplicate_channels"] == 0
    assert results["utilisation"]["over_cap_moments"] == 0
    assert results["utilisation"]["peak_live"] <= results["utilisation"]["cap"]
    assert results["import"]["imported"] == report["sizes"]["import_rows"]
    assert results["export"]["rows"] == report["sizes"]["export_rows"]
    assert results["export"]["rows_per_second"] > 0
    assert results["ingest"]["stored"] == results["ingest"]["webhooks"]["requests"] > 0
    for figure in ("throughput", "ingest"):  # the median of three rounds, each one shown
        ratios = sorted(one["ratio"] for one in results[figure]["rounds"])
        assert len(ratios) == 3 and results[figure]["ratio"] == ratios[1]
    polling = results["polling"]
    assert 0 < polling["voicemail_detection_looks"] <= polling["by_operation"]["get_agent_history"]
    assert results["queries"]["flat"], results["queries"]["pages"]
    assert set(results["growth"]["p95_ms"]["console: dashboard"]) == {"1000", "5000"}
    assert results["contention"]["kept"]["placement_app"] > 0
    scale = results["scale"]["runs"]
    for scaled in scale:  # held N calls while callees hung up and the campaign refilled them
        assert scaled["callee_hangups"] > 0 and scaled["events"] > 0, scaled
        assert scaled["live_min"] <= scaled["live_calls"], scaled
    retention = results["retention"]  # every old event pruned while webhooks kept coming
    assert retention["pruned"] == retention["rows"] and retention["left"] == 0
    assert retention["ingest_pruning"]["requests"] > 0
    assert retention["ingest_pruning"]["errors"] == 0
    assert report["live_calls_series"]
    markdown = (tmp_path / "benchmarks.md").read_text()
    assert "| campaign results export (CSV)" in markdown
    for section in ("**Live-call scale.**", "**Under contention.**", "**Cost as data grows.**",
                    "**Retention.**"):  # fmt: skip
        assert section in markdown
    assert "| placement throughput" in markdown and report["machine"]["cpu"] in markdown
    assert (tmp_path / "benchmarks-live-calls.png").read_bytes().startswith(b"\x89PNG")


def test_a_chaos_scenario_reports_zeros_and_a_breach_fails_the_run():
    held = run("tests.support.chaos", "http-5xx", "--due", "8", "--waiting", "2", timeout=900)
    assert held.returncode == 0, held.stdout[-3000:] + held.stderr[-3000:]
    for line in ("duplicates: 0", "over-cap: 0", "lost: 0", "stuck: 0", "outside-window: 0",
                 "over-limit: 0"):  # fmt: skip
        assert f"\n{line}\n" in held.stdout

    # The app is given a cap of 12 while 5 is checked: the run must say so and fail.
    breached = run("tests.support.chaos", "http-5xx", "--due", "12", "--waiting", "0",
                   "--app-cap", "12", timeout=900)  # fmt: skip
    told = breached.stdout[-3000:] + breached.stderr[-6000:]
    assert breached.returncode == 1, told
    # Exit 1 is also what an exception gives: the run must have got as far as its figures.
    over = [line for line in breached.stdout.splitlines() if line.startswith("over-cap: ")]
    assert over, f"the run stopped before reporting its invariants:\n{told}"
    assert int(over[0].split(": ")[1]) > 0, told
