"""The bench's gunicorn: the app's settings and URLs plus one baseline view.

`bare_post` is what Django alone costs to accept a webhook: the same signed POST as Agora's,
through the same middleware stack as any page, its body read and a small JSON answer. The
ingest figure compares the app's path (verify, parse, store, wake a drain) with it, so the
load generator's work is the same on both sides. Used only by `make bench`.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contactcenter.urls import urlpatterns as app_urlpatterns

BARE_POST_PATH = "bench/bare-post/"


@csrf_exempt
@require_POST
def bare_post(request: HttpRequest) -> JsonResponse:
    request.read()
    return JsonResponse({"ok": True})


urlpatterns = [path(BARE_POST_PATH, bare_post), *app_urlpatterns]
