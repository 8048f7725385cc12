"""The Celery app. Configuration lives in Django settings under the CELERY_ namespace."""

import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

# DjangoTask adds delay_on_commit / apply_async_on_commit: the one way a service queues work
# (the task runs only if the transaction that asked for it commits).
app = Celery("contactcenter", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each installed app's tasks.py
app.autodiscover_tasks(["contactcenter.crm_webhooks"])  # a subsystem of the project package


@setup_logging.connect
def use_django_logging(**_kwargs) -> None:
    """Workers and beat log through Django's LOGGING, so the redacting filter applies to them."""
    from django.conf import settings

    dictConfig(settings.LOGGING)


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
