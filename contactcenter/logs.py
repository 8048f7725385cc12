"""Log output for every process (web, workers, beat, the simulator, the MCP server): text lines
(the default) or, with LOG_FORMAT=json, one JSON object per line with the time, level, logger,
process and message, and the ids of what the line is about (`call_id`, `campaign_id`,
`agent_id`, `task_id`, `request_id`) from the context the code runs in (`log_context`).

Secrets are scrubbed in both formats: by the redacting filter (telephony.agora.redaction) on
the message, and here on every other value a JSON line carries (extras, tracebacks).

No Django here: gunicorn's own configuration (gunicorn.conf.py, the simulator's server) builds
its logging from `logging_config` before Django is loaded.
"""

import contextvars
import logging
import logging.config
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter

from telephony.agora.redaction import scrub

FORMATS = ("text", "json")
CONTEXT_FIELDS = ("call_id", "campaign_id", "agent_id", "task_id", "request_id")
# A task's arguments of these names are its lines' ids (contactcenter.celery).
LOGGED_ARGUMENTS = ("call_id", "campaign_id", "agent_id")

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")


def log_format_from_env() -> str:
    """LOG_FORMAT, checked: "text" or "json"."""
    value = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
    if value not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}; got {value!r}.")
    return value


def json_logs() -> bool:
    return log_format_from_env() == "json"


def current_context() -> dict[str, str]:
    return _context.get({})


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Lines logged inside carry these ids (None values are left out), beside the outer ones."""
    token = bind(**ids)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**ids: Any) -> contextvars.Token:
    """`log_context` for code that sets and resets apart (a task's start and end signals)."""
    added = {name: str(value) for name, value in ids.items() if value is not None}
    return _context.set({**current_context(), **added})


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the context's ids on each record (an id given as `extra` wins). Django logs a
    request's error answer after the middleware is done with it: its id comes from the request
    the line is about."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_context().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class JsonFormatter(LibraryJsonFormatter):
    """python-json-logger's formatter, every value scrubbed of secrets."""

    def formatException(self, ei) -> str:
        return scrub(super().formatException(ei))

    def formatStack(self, stack_info) -> str:
        return scrub(super().formatStack(stack_info))

    def process_log_record(self, log_data: dict) -> dict:
        return {key: _scrubbed(value) for key, value in log_data.items()}


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    return value


def logging_config(*, level: str, log_format: str, extra_loggers: tuple[str, ...] = ()) -> dict:
    """The `logging.config.dictConfig` of every process. `extra_loggers`: loggers of a host
    program (gunicorn's) that must write through the same handler instead of their own."""
    formatter = (
        {
            "()": "contactcenter.logs.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(processName)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger", "processName": "process"},
            "timestamp": True,
        }
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"}
    )
    through_console = {"handlers": ["console"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "telephony.agora.redaction.RedactingFilter"},
            "context": {"()": "contactcenter.logs.ContextFilter"},
        },
        "formatters": {"main": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["context", "redact"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Request logs may carry query strings; they go through the same redacting handler.
            "django": through_console,
            "celery": through_console,
            # One line per request from httpx is noise; our client logs its own, redacted.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            **{name: through_console for name in extra_loggers},
        },
    }


def configure(config: dict) -> None:
    """Django's LOGGING_CONFIG (and Celery's setup): `config`, and in JSON mode Python's
    warnings logged too (they would otherwise be printed as text)."""
    logging.config.dictConfig(config)
    if json_logs():
        logging.captureWarnings(True)


GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")


def gunicorn_logconfig() -> dict:
    """gunicorn's `logconfig_dict`: its own lines in the same format as the app's."""
    return logging_config(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        log_format=log_format_from_env(),
        extra_loggers=GUNICORN_LOGGERS,
    )
