"""The Django project: settings, URLs, the Celery app and what the apps share."""

from .celery import app as celery_app

__all__ = ("celery_app",)
