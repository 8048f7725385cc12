"""Agora's webhooks skip the staff-facing middleware.

`/webhooks/agora/` is called by a machine, authenticated by its HMAC signature, and is the
hottest path of the product: it needs no session, user, CSRF token, messages, login lockout or
staff time zone. Placed right after SecurityMiddleware (HTTPS redirects and headers still
apply), this hands that one path straight to its view, skipping the rest of the stack and URL
resolution; every other request goes on as before.
"""

from django.http import HttpRequest, HttpResponse

WEBHOOK_PATH = "/webhooks/agora/"


class AgoraWebhookShortcut:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == WEBHOOK_PATH:
            from telephony.views import agora_webhook

            return agora_webhook(request)
        return self.get_response(request)
