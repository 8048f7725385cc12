"""The Swagger UI page works offline: its scripts, styles and icon are our own static files."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

pytestmark = pytest.mark.django_db


def test_the_docs_page_references_no_external_host(staff_client):
    response = staff_client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    external = re.findall(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s]*""", page, re.I)
    assert external == []
    # every asset it loads is one of our static files (served by whitenoise)
    prefix = static("")
    assets = re.findall(rf"""["']({re.escape(prefix)}[^"']+)["']""", page)
    assert any(path.endswith("swagger-ui-bundle.js") for path in assets), assets
    assert any(path.endswith("swagger-ui.css") for path in assets), assets
    for path in assets:
        assert finders.find(path.removeprefix(prefix)), path


def test_a_signed_out_visitor_of_the_docs_is_sent_to_the_login_page(client):
    response = client.get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"


def test_the_docs_group_operations_by_resource(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    tags = {
        path: {tag for operation in item.values() for tag in operation.get("tags", [])}
        for path, item in schema["paths"].items()
    }
    assert tags["/api/v1/campaigns/"] == {"campaigns"}
    assert tags["/api/v1/contact-lists/"] == {"contact lists"}
    assert tags["/api/v1/contacts/{id}/"] == {"contacts"}
    assert tags["/api/v1/do-not-call/"] == {"do-not-call"}
    assert tags["/api/v1/webhook-subscriptions/"] == {"CRM webhooks"}
