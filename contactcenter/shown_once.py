"""The admin's shown-once page: a new key or secret is shown once, in the answer to its save."""

from django.contrib.admin.utils import quote
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers


class ShownOnceMixin:
    """Shows a new key or secret once, in the page that answers the save.

    Never through `messages`: Django's messages travel in a cookie (and in the session when
    too large), so the value would sit in the browser and in proxies' logs. `save_model` puts
    the value on the request with `show_once`; `response_add` renders it instead of the usual
    redirect, with headers that keep it out of caches.
    """

    shown_once_what = "secret"
    shown_once_usage = ""

    def show_once(self, request: HttpRequest, value: str) -> None:
        request._shown_once = value

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponse:
        value = getattr(request, "_shown_once", None)
        if not value:
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        info = opts.app_label, opts.model_name
        response = TemplateResponse(
            request,
            "admin/contactcenter/shown_once.html",
            {
                **self.admin_site.each_context(request),
                "opts": opts,
                "object": obj,
                "what": self.shown_once_what,
                "value": value,
                "usage": self.shown_once_usage,
                "change_url": reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)]),
                "changelist_url": reverse("admin:{}_{}_changelist".format(*info)),
            },
        )
        add_never_cache_headers(response)
        return response
