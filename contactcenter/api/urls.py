from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from campaigns.api import register as register_campaigns
from contactcenter.api.auth import ANY_CALLER
from contactcenter.crm_webhooks.api import register as register_crm_webhooks
from telephony.api import register as register_telephony

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False  # every API path needs authentication; the schema lists them
register_telephony(router)
register_campaigns(router)
register_crm_webhooks(router)


class SchemaView(SpectacularAPIView):
    access = ANY_CALLER  # the description of the API, no data: any valid key or staff login


class SchemaDocsView(SpectacularSwaggerView):
    access = ANY_CALLER


urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SchemaDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
