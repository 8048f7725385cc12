"""A throwaway deployment for the benchmark and chaos suites (`make bench`, `make chaos`).

Everything is real and local: its own PostgreSQL database (dropped and created afresh), a Redis
database, the simulator server, Celery workers and beat, extra dispatchers and a gunicorn web
server, each a process of its own with its log in the work folder. The calling process is set up
as Django against the same database, so it creates campaigns through the services and reads
results through the ORM.

Usage: `fleet = Fleet.create(name="contactcenter_bench", redis_url=...)` *before* anything
imports Django models, then `fleet.setup_django()`.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from cryptography.fernet import Fernet

from tests.support.processes import BASE_DIR, ManagedProcess, free_port, options, wait_for

POSTGRES_URL = os.environ.get("FLEET_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _database_url(name: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(name: str, *, template: str | None = None) -> str:
    """Drop and create database `name` (a copy of `template` if given); returns its URL."""
    import psycopg

    for each in (name, template or ""):
        if not each.replace("_", "").isalnum() and each:
            raise ValueError(f"database name: letters, digits and underscores only, got {each!r}")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        server = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise SystemExit(
            f"PostgreSQL is not reachable at {POSTGRES_URL} (FLEET_POSTGRES_URL): start it as "
            f"for the tests (see .ci/run). {error}"
        ) from None
    with server as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    return _database_url(name)


@dataclass
class Fleet:
    name: str
    database_url: str
    redis_url: str
    workdir: Path
    settings: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    simulator_url: str | None = None
    redis_port: int | None = None  # set when the fleet runs its own Redis server
    # How each process was started, so the supervisor can start it again.
    recipes: dict[str, tuple[list[str], str, dict[str, str]]] = field(default_factory=dict)
    restarts: Counter = field(default_factory=Counter)
    started: Counter = field(default_factory=Counter)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def create(cls, *, name: str, redis_url: str, workdir: Path, **settings: str) -> "Fleet":
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        fleet = cls(
            name=name,
            database_url=recreate_database(name),
            redis_url=redis_url,
            workdir=workdir,
            settings=settings,
        )
        os.environ.update(fleet.env())
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=BASE_DIR,
            env={**os.environ},
            check=True,
        )
        # The fleet calls at any hour (the guard is opened to 24 hours, see `env`): the shipped
        # regional calling-hours rules would close it again in some states (Florida at 20:00),
        # so its database starts without them (the suite tests the rules themselves).
        with psycopg.connect(fleet.database_url) as connection:
            connection.execute("DELETE FROM campaigns_callinghoursrule")
        # The migrated, empty database: `fresh_state` starts each scenario from a copy.
        recreate_database(fleet.template, template=name)
        return fleet

    @property
    def template(self) -> str:
        return f"{self.name}_template"

    def fresh_state(self) -> None:
        """Between scenarios: app processes stopped, an empty database, an empty Redis
        database, a simulator without calls (the simulator, web server and a Redis server of
        the fleet's own keep running)."""
        import redis
        from django.db import connections

        self.stop_all_but("simulator", "web", "redis")
        connections.close_all()
        recreate_database(self.name, template=self.template)
        redis.Redis.from_url(self.redis_url).flushdb()
        if self.simulator_url:
            self.reset_simulator()

    # -- configuration ------------------------------------------------------------------------

    def env(self, **overrides: str) -> dict[str, str]:
        """Every process's environment: this fleet's services and settings."""
        env = {
            "ENV_FILE": "",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("FLEET_SECRET_KEY") or secrets.token_urlsafe(40),
            # Production mode against the simulator: chosen explicitly, with secrets of its own.
            "AGORA_SIMULATOR": "true",
            "AGORA_WEBHOOK_SECRET": (
                os.environ.get("FLEET_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
            ),
            "FIELD_ENCRYPTION_KEYS": (
                os.environ.get("FLEET_ENCRYPTION_KEY") or Fernet.generate_key().decode()
            ),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "LOG_LEVEL": "INFO",
            "CALLING_HOURS_GUARD_START": "00:00",
            "CALLING_HOURS_GUARD_END": "23:59:59",
            # The chaos campaign calls London, New York, Tokyo and Sydney from a US number.
            "CALL_ALLOWED_COUNTRIES": "US,GB,JP,AU",
            **self.settings,
        }
        if self.simulator_url:
            env["AGORA_API_BASE_URL"] = self.simulator_url
        env.update(overrides)
        # Every process of the fleet, started now or later, shares these.
        os.environ.setdefault("FLEET_SECRET_KEY", env["SECRET_KEY"])
        os.environ.setdefault("FLEET_WEBHOOK_SECRET", env["AGORA_WEBHOOK_SECRET"])
        os.environ.setdefault("FLEET_ENCRYPTION_KEY", env["FIELD_ENCRYPTION_KEYS"])
        return env

    def setup_django(self) -> None:
        os.environ.update(self.env())
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
        import django

        django.setup()

    def configure(self, **settings: str) -> None:
        """Settings for processes started from now on (and this process's environment)."""
        self.settings.update(settings)
        os.environ.update(self.env())

    # -- processes ----------------------------------------------------------------------------

    def _start(self, name: str, args: list[str], *, ready: str, **env: str) -> ManagedProcess:
        with self._lock:
            if name in self.processes:
                self.stop(name)
            self.recipes[name] = (args, ready, env)
            process = ManagedProcess(
                name,
                args,
                env={**os.environ, **self.env(**env)},
                log_path=self.workdir / f"{name}-{self._next_log(name)}.log",
            )
            self.processes[name] = process
        process.wait_for_log(ready, timeout=60)
        return process

    def _next_log(self, name: str) -> int:
        self.started[name] += 1
        return self.started[name]

    def supervise(self, stop: threading.Event, *, every: float = 0.5) -> threading.Thread:
        """Restart any process that exits by itself, as systemd's Restart=always or an
        orchestrator would (a process this fleet stops or kills is not restarted by this)."""

        def watch() -> None:
            while not stop.wait(every):
                with self._lock:
                    dead = [n for n, p in self.processes.items() if p.proc.poll() is not None]
                    for name in dead:
                        self.processes.pop(name)._log.close()
                for name in dead:
                    args, ready, env = self.recipes[name]
                    self.restarts[name] += 1
                    with suppress(AssertionError):  # not ready yet: the next round retries
                        self._start(name, args, ready=ready, **env)

        thread = threading.Thread(target=watch, name="supervisor", daemon=True)
        thread.start()
        return thread

    def start_simulator(self, *args: str) -> str:
        from django.conf import settings

        port = free_port()
        self._start(
            "simulator",
            [sys.executable, "manage.py", "agora_simulator", "--port", str(port),
             *options(app_id=settings.AGORA_APP_ID, customer_id=settings.AGORA_CUSTOMER_ID,
                      customer_secret=settings.AGORA_CUSTOMER_SECRET,
                      app_certificate=settings.AGORA_APP_CERTIFICATE), *args],
            ready="Agora simulator listening",
        )  # fmt: skip
        self.simulator_url = f"http://127.0.0.1:{port}"
        os.environ["AGORA_API_BASE_URL"] = self.simulator_url
        return self.simulator_url

    def start_worker(self, name: str = "worker", *, concurrency: int = 4, **env: str):
        return self._start(
            name,
            [sys.executable, "-m", "celery", "-A", "contactcenter", "worker", "--loglevel",
             "INFO", "--hostname", f"{name}@fleet", "--concurrency", str(concurrency),
             "--without-mingle", "--without-gossip"],
            ready=" ready.",
            **env,
        )  # fmt: skip

    def start_beat(self, **env: str):
        return self._start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "contactcenter", "beat", "--loglevel", "INFO",
             "--schedule", str(self.workdir / "beat-schedule")],
            ready="beat: Starting",
            **env,
        )  # fmt: skip

    def start_dispatcher(self, name: str = "dispatcher", *, interval: float = 0.5, **env: str):
        return self._start(
            name,
            [sys.executable, "manage.py", "run_dispatcher", "--interval", str(interval)],
            ready="dispatcher running",
            **env,
        )

    def start_web(self, *, workers: int = 2, threads: int = 4, **env: str) -> str:
        port = free_port()
        self._start(
            "web",
            [sys.executable, "-m", "gunicorn", "contactcenter.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
             "--access-logfile", "-" if env.pop("access_log", "") else "/dev/null"],
            ready="Booting worker",
            **env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{url}/livez/"), timeout=30, message="gunicorn to answer")
        return url

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        with self._lock:
            process = self.processes.pop(name, None)
        if process is None:
            return
        # Its children still alive once it stopped (a Celery pool whose parent outlived SIGTERM
        # and was SIGKILLed) are SIGKILLed too: they would hold database sessions into the next run.
        children = _children_with_commands(process.proc.pid)
        process.stop(sig)
        for child, command in children:
            if _command_of(child) == command:
                with suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)

    def kill(self, name: str) -> None:
        """SIGKILL a process and every child it has (a Celery worker's pool too)."""
        with self._lock:
            process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            for child in _children(process.proc.pid):
                os.kill(child, signal.SIGKILL)
            process.proc.kill()
        process.proc.wait(10)
        process._log.close()

    def stop_all(self) -> None:
        self.stop_all_but()

    def stop_all_but(self, *kept: str) -> None:
        for name in list(self.processes):
            if name not in kept:
                self.stop(name)

    # -- the simulator ------------------------------------------------------------------------

    def ledger(self) -> dict[str, Any]:
        return httpx.get(f"{self.simulator_url}/_simulator/ledger", timeout=30).json()

    def ledger_calls(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.simulator_url}/_simulator/calls", timeout=60).json()

    def reset_simulator(self) -> None:
        httpx.post(f"{self.simulator_url}/_simulator/reset", timeout=30).raise_for_status()

    def simulator_config(self, **changes: Any) -> None:
        httpx.post(
            f"{self.simulator_url}/_simulator/config", json=changes, timeout=30
        ).raise_for_status()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _command_of(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _children_with_commands(pid: int) -> list[tuple[int, bytes | None]]:
    """The process's descendants, each with its command line (to know it again later, and
    not mistake another process that was given its number meanwhile)."""
    return [(child, _command_of(child)) for child in _children(pid)]


def _children(pid: int) -> list[int]:
    found = subprocess.run(
        ["/usr/bin/pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    children = [int(child) for child in found]
    return [grandchild for child in children for grandchild in _children(child)] + children


# -- the invariants, measured from the simulator's record of every call it accepted --------------


def _moment(value: float | None) -> float:
    return float("inf") if value is None else value


def over_cap_moments(calls: Iterable[dict], cap: int) -> int:
    """Acceptances that made live calls exceed `cap` (a call ending at the same instant as
    another starts has freed its place first)."""
    events = []
    for call in calls:
        events.append((call["created_at"], 1))
        events.append((_moment(call["ended_at"]), -1))
    live = moments = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        live += change
        if change > 0 and live > cap:
            moments += 1
    return moments


def duplicate_dials(calls: Iterable[dict], allowed: dict[str, int]) -> int:
    """Calls beyond what each number was allowed (its attempts), plus channels used twice."""
    calls = list(calls)
    per_number = Counter(call["to_number"] for call in calls)
    beyond = sum(max(0, count - allowed.get(number, 0)) for number, count in per_number.items())
    per_channel = Counter(call["channel"] for call in calls)
    reused = sum(count - 1 for count in per_channel.values() if count > 1)
    return beyond + reused


def peak_live(calls: Iterable[dict]) -> int:
    events = []
    for call in calls:
        events.append((call["created_at"], 1))
        events.append((_moment(call["ended_at"]), -1))
    live = peak = 0
    for _, change in sorted(events):
        live += change
        peak = max(peak, live)
    return peak


def refill_latencies(calls: Iterable[dict], cap: int) -> list[float]:
    """While the cap is the limit, the k-th call to end frees the place the (cap+k)-th call
    takes: the time between the two is how long the place stood empty."""
    calls = list(calls)
    starts = sorted(call["created_at"] for call in calls)
    ends = sorted(call["ended_at"] for call in calls if call["ended_at"] is not None)
    latencies = []
    for index, ended in enumerate(ends):
        if cap + index >= len(starts):
            break
        latencies.append(max(0.0, starts[cap + index] - ended))
    return latencies


def live_series(calls: Iterable[dict], *, step: float = 0.25) -> list[tuple[float, int]]:
    """(seconds since the first call, live calls) every `step` seconds."""
    calls = list(calls)
    if not calls:
        return []
    first = min(call["created_at"] for call in calls)
    last = max(_moment(call["ended_at"]) for call in calls)
    if last == float("inf"):
        last = max(call["created_at"] for call in calls)
    series = []
    moment = first
    while moment <= last + step:
        live = sum(1 for call in calls if call["created_at"] <= moment < _moment(call["ended_at"]))
        series.append((round(moment - first, 3), live))
        moment += step
    return series


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def wait_until(predicate, *, timeout: float, message: str, interval: float = 0.25):
    return wait_for(predicate, timeout=timeout, message=message, interval=interval)


def now() -> float:
    return time.time()
