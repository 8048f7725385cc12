from django.contrib import admin
from django.urls import include, path

from contactcenter import views
from telephony import views as telephony_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("contactcenter.api.urls")),
    path("healthz/", views.healthz, name="healthz"),
    path("webhooks/agora/", telephony_views.agora_webhook, name="agora-webhook"),
]
