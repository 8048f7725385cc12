from django.contrib.auth.views import redirect_to_login
from django.urls import include, path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from analysis.api import register as register_analysis
from campaigns.api import register as register_campaigns
from contactcenter.api.auth import ANY_CALLER
from contactcenter.crm_webhooks.api import register as register_crm_webhooks
from telephony.api import register as register_telephony

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False  # every API path needs authentication; the schema lists them
register_telephony(router)
register_campaigns(router)
register_crm_webhooks(router)
register_analysis(router)


class SchemaView(SpectacularAPIView):
    access = ANY_CALLER  # the description of the API, no data: any valid key or staff login


class SchemaDocsView(SpectacularSwaggerView):
    """The API's documentation page: for staff signed in and callers with a key; a signed-out
    visitor (a browser, no key) is sent to the login page and back here."""

    access = ANY_CALLER

    def dispatch(self, request, *args, **kwargs):
        has_key = request.headers.get("Authorization") or request.headers.get("X-Api-Key")
        if not has_key and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        return super().dispatch(request, *args, **kwargs)


urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SchemaDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
