"""LOG_FORMAT=json: every process writes one JSON object per line, with the ids of what it works
on, secrets scrubbed; text stays the default."""

import io
import json
import logging
import logging.config
import sys
import uuid

import httpx
import pytest

from contactcenter.celery import bind_log_context, reset_log_context
from contactcenter.logs import current_context, log_context, logging_config
from telephony.agora.redaction import register_secret
from telephony.tasks import place_call
from tests.support.e2e import simulator_args, worker_env
from tests.support.processes import (
    ManagedProcess,
    answers,
    celery_beat,
    celery_worker,
    free_port,
    process_env,
    simulator_server,
    wait_for,
)

SECRET = "s3cr3t-value-that-must-never-be-logged"


def json_lines(text: str) -> list[dict]:
    """Every line of `text` as JSON (a line that is not fails the test, naming it)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"line {number} is not JSON: {line!r}\n{text}")
    return lines


def logged_through(config: dict, emit) -> str:
    """What the handler of `config` writes while `emit(logger)` runs."""
    stream = io.StringIO()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        emit(logging.getLogger("tests.logs"))
    finally:
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
    return stream.getvalue()


def test_json_lines_carry_the_context_ids_and_no_secret():
    register_secret(SECRET)

    def emit(logger):
        with log_context(call_id="c-1", campaign_id=7, agent_id=None):
            logger.info("placing with %s", SECRET, extra={"note": f"key {SECRET}"})
            with log_context(request_id="r-1"):
                try:
                    raise RuntimeError(f"Agora said no to {SECRET}")
                except RuntimeError:
                    logger.exception("failed")
        logger.warning("outside")

    text = logged_through(logging_config(level="INFO", log_format="json"), emit)

    assert SECRET not in text
    first, failed, outside = json_lines(text)
    assert {"timestamp", "level", "logger", "process", "message"} <= set(first)
    assert (first["level"], first["logger"]) == ("INFO", "tests.logs")
    assert (first["call_id"], first["campaign_id"]) == ("c-1", "7")
    assert "agent_id" not in first  # None: left out
    assert "[REDACTED]" in first["message"] and "[REDACTED]" in first["note"]
    assert failed["request_id"] == "r-1" and failed["call_id"] == "c-1"
    assert "RuntimeError" in failed["exc_info"] and "[REDACTED]" in failed["exc_info"]
    assert "call_id" not in outside  # the context ended with its block
    assert current_context() == {}


def test_text_stays_the_default_format():
    text = logged_through(
        logging_config(level="INFO", log_format="text"), lambda logger: logger.info("hello")
    )
    assert text.rstrip().endswith("INFO MainProcess tests.logs: hello")


def test_a_bad_log_format_stops_the_process_naming_it(monkeypatch):
    from contactcenter.logs import log_format_from_env

    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json; got 'xml'"):
        log_format_from_env()


def test_a_task_s_lines_carry_its_id_and_the_ids_it_was_given():
    call_id = str(uuid.uuid4())
    bind_log_context(task_id="t-1", task=place_call, args=(call_id,), kwargs={})
    try:
        assert current_context() == {"task_id": "t-1", "call_id": call_id}
    finally:
        reset_log_context(task=place_call)
    assert current_context() == {}


@pytest.mark.django_db
def test_each_request_has_an_id_in_its_answer_and_its_lines(client):
    answer = client.get("/livez/")
    generated = answer["X-Request-ID"]
    assert len(generated) == 32

    assert client.get("/livez/", HTTP_X_REQUEST_ID="proxy-id-1")["X-Request-ID"] == "proxy-id-1"
    odd = client.get("/livez/", HTTP_X_REQUEST_ID="no spaces or\nnewlines")["X-Request-ID"]
    assert odd != "no spaces or\nnewlines" and len(odd) == 32  # replaced, never logged as given


@pytest.mark.services
@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_every_process_writes_json_lines(tmp_path, redis_db):
    """Web (gunicorn), a worker, beat, the simulator and the MCP server, all with
    LOG_FORMAT=json: every line each one writes parses, and the worker's carry their task's
    ids. (And the web process's /metrics shows what the worker counted: the figures live in
    Redis, not in a process.)"""
    json_env = {"LOG_FORMAT": "json", "METRICS_TOKEN": "process-test-token"}
    with simulator_server(tmp_path, *simulator_args(), **json_env) as base_url:
        env = worker_env(base_url, HEARTBEAT_INTERVAL="1", **json_env)
        port = free_port()
        web = ManagedProcess(
            "web",
            [sys.executable, "-m", "gunicorn", "contactcenter.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "1"],
            env=process_env(**env), log_path=tmp_path / "web.log",
        )  # fmt: skip
        mcp_port = free_port()
        mcp = ManagedProcess(
            "mcp",
            [sys.executable, "manage.py", "mcp_server", "--port", str(mcp_port)],
            env=process_env(**env), log_path=tmp_path / "mcp.log",
        )  # fmt: skip
        try:
            with (
                celery_worker(tmp_path, hostname="json@test", **env) as worker,
                celery_beat(tmp_path, **env) as beat,
            ):
                web.wait_for_log("Booting worker")
                mcp.wait_for_log("Uvicorn running")
                wait_for(lambda: answers(f"http://127.0.0.1:{port}/nope/"), timeout=30,
                         message="gunicorn to answer")  # fmt: skip
                missing = str(uuid.uuid4())
                place_call.delay(missing)
                worker.wait_for_log("gone before it was placed")
                worker.wait_for_log("is alive (sent by beat)")
                worker.wait_for_log("Task campaigns.dispatch[")  # a dispatcher tick ran
                scraped = httpx.get(
                    f"http://127.0.0.1:{port}/metrics", timeout=10,
                    headers={"Authorization": "Bearer process-test-token"},
                ).text  # fmt: skip
                worker_lines = json_lines(worker.log())
                beat_lines = json_lines(beat.log())
        finally:
            web.stop()
            mcp.stop()
        web_lines = json_lines(web.log())
        mcp_lines = json_lines(mcp.log())
    simulator_log = next(tmp_path.glob("simulator-*.log")).read_text()
    simulator_lines = json_lines(simulator_log)

    gone = next(line for line in worker_lines if "gone before it was placed" in line["message"])
    assert gone["call_id"] == missing and gone["task_id"]
    assert gone["logger"] == "telephony.tasks" and gone["level"] == "WARNING"
    assert any(line["message"].startswith("beat: Starting") for line in beat_lines)
    not_found = next(line for line in web_lines if "Not Found: /nope/" in line["message"])
    assert len(not_found["request_id"]) == 32
    assert any("Booting worker" in line["message"] for line in web_lines)
    assert any("Agora simulator listening" in line["message"] for line in simulator_lines)
    assert any("Uvicorn running" in line["message"] for line in mcp_lines)
    ticks = next(
        line for line in scraped.splitlines()
        if line.startswith("contactcenter_dispatch_tick_seconds_count")
    )  # fmt: skip
    assert float(ticks.split()[-1]) >= 1  # counted by the worker, read by gunicorn


@pytest.mark.django_db
def test_a_call_placed_inside_a_task_s_context_logs_under_its_own_id(place):
    """A placement task's context already holds a call id (its argument): the sending thread
    replaces it with the call it sends, it does not fail on it."""
    with log_context(task_id="t-1", call_id="the-task-argument"):
        call = place("+14155550150")

    assert call.agent_id  # placed
