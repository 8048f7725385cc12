"""The request id every line a request logs carries; Agora's webhooks skip the staff-facing
middleware.

`/webhooks/agora/` is called by a machine, authenticated by its HMAC signature, and is the
hottest path of the product: it needs no session, user, CSRF token, messages, login lockout or
staff time zone. Placed right after SecurityMiddleware (HTTPS redirects and headers still
apply), this hands that one path straight to its view, skipping the rest of the stack and URL
resolution; every other request goes on as before.
"""

import re
import uuid

from django.http import HttpRequest, HttpResponse

from contactcenter.logs import bind, reset

WEBHOOK_PATH = "/webhooks/agora/"
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's or client's own id is kept when it looks like one (never arbitrary text in logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestId:
    """Each request's id (the proxy's X-Request-ID, else a new one) goes on every line logged
    while it is handled (`request_id`, contactcenter.logs) and back in the response's header."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id  # for lines logged after the middleware (an error's)
        token = bind(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AgoraWebhookShortcut:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == WEBHOOK_PATH:
            from telephony.views import agora_webhook

            return agora_webhook(request)
        return self.get_response(request)
