import pytest

from contactcenter.tasks import heartbeat


@pytest.mark.django_db
def test_healthz_reports_database_and_last_heartbeat(client, redis_db):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "last_heartbeat_at": None}

    heartbeat.apply(kwargs={"source": "test"})

    assert client.get("/healthz/").json()["last_heartbeat_at"] > 0


def test_healthz_only_answers_get(client):
    assert client.post("/healthz/").status_code == 405


@pytest.mark.django_db
def test_livez_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/livez/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.post("/livez/").status_code == 405
