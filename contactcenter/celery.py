"""The Celery app. Configuration lives in Django settings under the CELERY_ namespace."""

import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging, worker_process_init

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
