"""The Celery app's configuration, and real worker and beat processes running tasks."""

import inspect
import subprocess
import sys
import uuid

import pytest
from celery import current_app
from django.conf import settings

from contactcenter.celery import app
from contactcenter.health import heartbeat_last
from contactcenter.queues import TASK_QUEUES, Queue
from contactcenter.tasks import heartbeat
from tests.support.processes import BASE_DIR, celery_beat, celery_worker, process_env, wait_for

OUR_PACKAGES = ("contactcenter.", "telephony.", "campaigns.", "analysis.")


def our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_PACKAGES)}


def test_the_project_app_is_the_current_app_and_speaks_json_only():
    assert current_app.main == "contactcenter"
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_default_queue == Queue.DEFAULT
    assert {queue.name for queue in app.conf.task_queues} == {queue.value for queue in Queue}


def test_every_task_has_one_queue_and_time_limits():
    tasks = our_tasks()
    assert "contactcenter.heartbeat" in tasks
    assert set(TASK_QUEUES) == set(tasks)  # a row for every task, and no row for a gone one
    for name, task in tasks.items():
        assert "queue" not in type(task).__dict__, f"{name}: its queue belongs in queues.py"
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_a_task_message_is_published_to_the_queue_its_task_names(monkeypatch, redis_db):
    published = {}

    def capture(producer, name, message, queue=None, **options):
        published[name] = queue.name

    monkeypatch.setattr(app.amqp, "send_task_message", capture)
    for name, task in our_tasks().items():
        required = [
            parameter
            for parameter in inspect.signature(task.run).parameters.values()
            if parameter.default is parameter.empty
        ]
        task.apply_async(args=["1"] * len(required))
        assert published[name] == TASK_QUEUES[name], name
    assert published["telephony.place_call"] == Queue.CALLS
    assert published["campaigns.dispatch"] == Queue.DISPATCH


def test_services_queue_work_only_when_their_transaction_commits(
    monkeypatch, db, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from campaigns.tasks import dispatch_campaign

    sent = []
    monkeypatch.setattr(dispatch_campaign, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            dispatch_campaign.delay_on_commit(7)
            raise RuntimeError("rolled back")
        dispatch_campaign.delay_on_commit(8)
        assert sent == []
    assert sent == [(8,)]


def test_heartbeat_is_safe_to_redeliver():
    assert heartbeat.acks_late is True
    assert heartbeat.reject_on_worker_lost is True


def test_beat_schedule_is_in_code_and_names_registered_tasks():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["heartbeat"]["task"] == "contactcenter.heartbeat"
    for entry in schedule.values():
        assert entry["task"] in our_tasks()


def test_heartbeat_logs_and_records_who_ran_it(redis_db, caplog):
    caplog.set_level("INFO", logger="contactcenter.health")

    heartbeat.apply(kwargs={"source": "unit-test"})

    beat = heartbeat_last()
    assert beat["source"] == "unit-test"
    assert "heartbeat: worker" in caplog.text
    assert "sent by unit-test" in caplog.text


@pytest.mark.services
@pytest.mark.real_clock
def test_worker_on_redis_runs_a_task(tmp_path, redis_db):
    source = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(tmp_path, hostname="hb-worker@test") as worker:
        heartbeat.delay(source=source)

        beat = wait_for(
            lambda: (b := heartbeat_last()) and b["source"] == source and b,
            timeout=30,
            message=f"the worker never ran the heartbeat:\n{worker.log()}",
        )
    assert beat["worker"] == "hb-worker@test"
    assert f"sent by {source}" in worker.log()


@pytest.mark.services
@pytest.mark.real_clock
def test_beat_schedules_the_heartbeat_and_a_worker_runs_it(tmp_path, redis_db):
    with (
        celery_worker(tmp_path, hostname="beat-worker@test") as worker,
        celery_beat(tmp_path, HEARTBEAT_INTERVAL="1") as beat,
    ):
        wait_for(
            lambda: (b := heartbeat_last()) and b["source"] == "beat",
            timeout=30,
            message=f"no heartbeat from beat:\nbeat:\n{beat.log()}\nworker:\n{worker.log()}",
        )
    assert "Sending due task heartbeat" in beat.log()


@pytest.mark.services
@pytest.mark.real_clock
def test_the_zero_setup_filesystem_broker_carries_tasks(tmp_path, redis_db):
    # The broker is the filesystem (as on a bare machine); the cache stays on Redis so the
    # test can see the result.
    fs = {"CELERY_BROKER_URL": "filesystem://", "VAR_DIR": str(tmp_path / "var")}
    with celery_worker(tmp_path, hostname="fs-worker@test", **fs) as worker:
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "contactcenter", "call",
             "contactcenter.heartbeat", "--kwargs", '{"source": "filesystem"}',
             "--queue", "default"],
            cwd=BASE_DIR, env=process_env(**fs), check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        wait_for(
            lambda: (b := heartbeat_last()) and b["source"] == "filesystem",
            timeout=30,
            message=f"the filesystem broker did not deliver:\n{worker.log()}",
        )
    assert "fs-worker@test" in worker.log()


def _sessions_of(application_name: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        return [pid for (pid,) in cursor.fetchall()]


def _run_database_tasks(tmp_path, *, tasks: int, **env: str) -> list[list[int]]:
    """Run `tasks` database tasks one after another on a worker of one process, and after each
    list the PostgreSQL sessions that worker holds (named by application_name)."""
    from telephony.tasks import recover_stuck_calls
    from tests.support.e2e import worker_env

    name = f"celery-test-{uuid.uuid4().hex[:8]}"
    database_url = worker_env("http://127.0.0.1:9")["DATABASE_URL"]
    env = {"DATABASE_URL": f"{database_url}?application_name={name}", **env}
    seen = []
    with celery_worker(tmp_path, hostname="db-worker@test", queues="default", **env) as worker:
        for done in range(1, tasks + 1):
            recover_stuck_calls.delay()
            wait_for(
                lambda done=done: worker.log().count("succeeded in") >= done,
                timeout=30,
                message=f"the worker did not run the task:\n{worker.log()}",
            )
            seen.append(_sessions_of(name))
    return seen


@pytest.mark.services
@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_session_between_tasks(tmp_path, redis_db):
    # Celery's Django fixup would close it around every task: a new session each time.
    seen = _run_database_tasks(tmp_path, tasks=4)
    assert len(seen[0]) == 1, seen
    assert seen == [seen[0]] * 4


@pytest.mark.services
@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_a_worker_follows_conn_max_age_zero_and_closes_after_each_task(tmp_path, redis_db):
    seen = _run_database_tasks(tmp_path, tasks=2, DATABASE_CONN_MAX_AGE="0")
    assert seen == [[], []]


def test_a_task_run_in_its_callers_process_leaves_the_callers_connection_alone(db):
    from django.db import connection

    from telephony.tasks import recover_stuck_calls

    connection.ensure_connection()
    before = connection.connection
    recover_stuck_calls.apply()
    assert connection.connection is before and not before.closed
    assert not connection.needs_rollback  # the caller's transaction goes on
