from django.contrib import admin
from django.urls import include, path

from contactcenter import views
from telephony import views as telephony_views

# A path under /api/ that matches no route (e.g. a non-integer id) gets the API's error body.
handler404 = "contactcenter.api.lookups.api_not_found"

urlpatterns = [
    # The staff console lives inside the admin (same login, header and permissions).
    path("admin/dashboard/", include("contactcenter.console.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("contactcenter.api.urls")),
    path("healthz/", views.healthz, name="healthz"),
    path("livez/", views.livez, name="livez"),
    path("metrics", views.metrics, name="metrics"),
    path("webhooks/agora/", telephony_views.agora_webhook, name="agora-webhook"),
]
