"""Suite-wide fixtures. The suite runs against the real PostgreSQL and Redis: when either is
unreachable the run stops at once with a message saying which and how to start it."""

import os

import environ
import psycopg
import pytest
import redis
import time_machine

from tests.support.clock import PINNED_AT, Clock

pytest_plugins = ["tests.support.fixtures", "tests.support.api_clients"]

START_HINT = "On this machine: bash .ci/run starts both (see README, 'Running the tests')."


def _check_postgres() -> None:
    config = environ.Env.db_url_config(os.environ.get("DATABASE_URL", ""))
    if config.get("ENGINE") != "django.db.backends.postgresql":
        pytest.exit(
            "The test suite needs PostgreSQL: set DATABASE_URL to a postgres:// URL "
            f"(got {config.get('ENGINE') or 'nothing'}). {START_HINT}",
            returncode=3,
        )
    try:
        psycopg.connect(
            host=config["HOST"] or "127.0.0.1",
            port=config["PORT"] or 5432,
            user=config["USER"],
            password=config["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL at {config['HOST']}:{config['PORT']} is unreachable: {exc}. {START_HINT}",
            returncode=3,
        )


def _check_redis() -> None:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.exit(f"The test suite needs Redis: set REDIS_URL. {START_HINT}", returncode=3)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {url} is unreachable: {exc}. {START_HINT}", returncode=3)


def pytest_sessionstart(session: pytest.Session) -> None:
    _check_postgres()
    _check_redis()


@pytest.fixture
def redis_db():
    """The suite's own Redis database (REDIS_URL), emptied before and after the test."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def clock(request):
    """The test's clock (tests/support/clock.py): pinned at PINNED_AT, or the real one for tests
    marked `real_clock` (they start processes that read the real clock)."""
    if request.node.get_closest_marker("real_clock"):
        yield Clock(None)
        return
    with time_machine.travel(PINNED_AT, tick=True) as traveller:
        yield Clock(traveller)


@pytest.fixture(autouse=True)
def _fresh_console_reports():
    """The dashboard's reports are cached for minutes (contactcenter.console.views): each test
    starts without a copy another test left."""
    from django.core.cache import cache

    from contactcenter.console.views import REPORTS_CACHE_KEY

    cache.delete(REPORTS_CACHE_KEY)
