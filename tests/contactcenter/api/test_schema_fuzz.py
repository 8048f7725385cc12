"""A property-based run against the API's own OpenAPI schema: no request may cause a 5xx.

The suite sends 12 generated requests per operation; `SCHEMA_FUZZ_EXAMPLES=200 pytest
tests/contactcenter/api/test_schema_fuzz.py` runs a longer search (README, "Security")."""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as search

from contactcenter.models import ApiKey, ApiScope

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(db):
    from django.test import Client

    staff = Client()
    from django.contrib.auth import get_user_model

    staff.force_login(get_user_model().objects.create_user("schema", is_staff=True))
    document = staff.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert document.status_code == 200
    return schemathesis.openapi.from_dict(document.json())


@pytest.fixture
def keep_test_connection():
    """Requests sent straight to the WSGI app would close the test's database connection at
    their end (as Django's test client prevents): keep it open for the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_request_causes_a_server_error(schema, keep_test_connection, fake_dns, settings):
    # fake_dns: webhook URLs' host names are resolved; no lookup leaves the machine.
    settings.API_RATE_PER_KEY = "1000000/minute"  # the key's rate limit must not hide anything
    _, key = ApiKey.issue(name="fuzz", scopes=ApiScope.values)
    app = get_wsgi_application()
    failures, sent, operations = [], [], 0
    for operation in schema.get_all_operations():
        operations += 1
        operation = operation.ok()

        @search(
            max_examples=int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "12")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def exercise(case):
            response = case.call(app=app, headers={"Authorization": f"Api-Key {key}"})
            sent.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, case.body))

        exercise()
    assert failures == []
    assert 429 not in sent  # every request reached its view
    assert operations >= 30  # every documented operation was exercised
    assert len(sent) >= 5 * operations
    assert {200, 201, 400, 404} & set(sent), sorted(set(sent))
    print(f"{operations} operations, {len(sent)} requests, statuses {sorted(set(sent))}")
