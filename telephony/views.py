from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from telephony.services.webhooks import webhook_receive


@csrf_exempt  # Agora cannot send a CSRF token; the HMAC signature authenticates it instead
@require_POST
def agora_webhook(request: HttpRequest) -> JsonResponse:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
    body = request.read(limit + 1)  # bounded even when no length was declared
    if len(body) > limit:
        return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
    answer = webhook_receive(body=body, headers=request.headers)
    return JsonResponse(answer.body, status=answer.status)
