"""The Celery app. Configuration lives in Django settings under the CELERY_ namespace."""

import inspect
import logging
import os
from contextlib import suppress

from celery import Celery
from celery.apps.beat import Beat as CeleryBeat
from celery.apps.worker import Worker as CeleryWorker
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init
from kombu.utils.objects import cached_property

from contactcenter.logs import LOGGED_ARGUMENTS, bind, configure, json_logs, reset

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")


class ContactCenterCelery(Celery):
    """With LOG_FORMAT=json the worker and beat print no banner: every line they write is a JSON
    object (contactcenter.logs)."""

    @cached_property
    def Worker(self):
        return self.subclass_with_self(_quiet_when_json(CeleryWorker))

    @cached_property
    def Beat(self):
        return self.subclass_with_self(_quiet_when_json(CeleryBeat))


def _quiet_when_json(program: type) -> type:
    class Program(program):
        def __init__(self, *args, **kwargs):
            if json_logs():
                kwargs["quiet"] = True
            super().__init__(*args, **kwargs)

    Program.__name__ = Program.__qualname__ = program.__name__
    Program.__module__ = program.__module__
    return Program


# DjangoTask adds delay_on_commit / apply_async_on_commit: the one way a service queues work
# (the task runs only if the transaction that asked for it commits).
app = ContactCenterCelery("contactcenter", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each installed app's tasks.py
app.autodiscover_tasks(["contactcenter.crm_webhooks"])  # a subsystem of the project package


@setup_logging.connect
def use_django_logging(**_kwargs) -> None:
    """Workers and beat log through Django's LOGGING, so the redacting filter applies to them."""
    from django.conf import settings

    configure(settings.LOGGING)


@worker_process_init.connect
def build_agora_client(**_kwargs) -> None:
    """Each pool process builds its Agora client (TLS context, connection pool) when it starts,
    not inside the first placement it runs (a batch's threads would all wait for it)."""
    from telephony.clients import agora_client

    try:
        agora_client()
    except Exception:  # built again on first use, where the error is reported to the caller
        logging.getLogger(__name__).exception("the Agora client could not be built at start")


# Celery's Django fixup closes a worker's database connection before and after every task
# unless CELERY_DB_REUSE_MAX is set (celery/celery#9824): a new PostgreSQL session, forked and
# authenticated, for each of thousands of short tasks. Settings set it high, and tasks follow
# Django's rule for requests instead: CONN_MAX_AGE, and a connection that errored or went
# stale is checked before reuse (CONN_HEALTH_CHECKS).
@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **_kwargs) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run in the caller's process (task.apply): its connection is its caller's
    from django.db import close_old_connections

    close_old_connections()


# The ids a task works on go on every line it logs (LOG_FORMAT=json shows them).
_signatures: dict[str, inspect.Signature] = {}


@task_prerun.connect
def bind_log_context(task_id=None, task=None, args=(), kwargs=None, **_kwargs) -> None:
    if task is None:
        return
    signature = _signatures.get(task.name)
    if signature is None:
        signature = _signatures[task.name] = inspect.signature(task.run)
    try:
        named = signature.bind_partial(*args, **(kwargs or {})).arguments
    except TypeError:  # not its arguments: the task itself will say so
        named = {}
    ids = {name: named.get(name) for name in LOGGED_ARGUMENTS}
    task.request.log_context_token = bind(task_id=task_id, **ids)


@task_postrun.connect
def reset_log_context(task=None, **_kwargs) -> None:
    token = getattr(task.request, "log_context_token", None) if task is not None else None
    if token is not None:
        task.request.log_context_token = None
        with suppress(ValueError):  # set in another context (an eager task's caller)
            reset(token)
