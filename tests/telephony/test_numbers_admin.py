"""The phone-number admin: writes through the services, the password never shown."""

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from telephony.models import Call, PhoneNumber
from telephony.services import numbers as services
from telephony.services.numbers import (
    phone_number_create,
    phone_number_push,
    phone_numbers_reconcile,
    register_delete_guard,
)
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db

PASSWORD = "trunk-pass-4242"
CHANGELIST = "admin:telephony_phonenumber_changelist"


@pytest.fixture(autouse=True)
def _no_guards(monkeypatch):
    monkeypatch.setattr(services, "DELETE_GUARDS", [])


def form_data(**overrides) -> dict[str, str]:
    data = {
        "e164": "+14155550123",
        "label": "Sales",
        "provider": "byo",
        "inbound": "on",
        "outbound": "on",
        "inbound_allowed_addresses": "54.172.60.0/30\n54.172.60.4/30",
        "inbound_pipeline_id": "",
        "outbound_address": "sip.carrier.example",
        "outbound_transport": "tls",
        "outbound_prefix": "",
        "outbound_user": "acme",
        "outbound_password": PASSWORD,
        "outbound_pipeline_id": "",
        "_save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def change_url(number: PhoneNumber) -> str:
    return reverse("admin:telephony_phonenumber_change", args=[number.pk])


def delete_url(number: PhoneNumber) -> str:
    return reverse("admin:telephony_phonenumber_delete", args=[number.pk])


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def number(agora) -> PhoneNumber:
    """A number created and pushed to the simulator (synced)."""
    created = phone_number_create(
        e164="+14155550123",
        label="Sales",
        outbound_address="sip.carrier.example",
        outbound_user="acme",
        outbound_password=PASSWORD,
    )
    phone_number_push(number_id=created.pk)
    created.refresh_from_db()
    return created


def live_call(number: PhoneNumber) -> Call:
    return Call.objects.create(
        to_number="+12025550199",
        from_number=number.e164,
        caller_id=number,
        status=CallStatus.RINGING,
        agora_name="cc-admin-test",
        channel="ccadmintest",
    )


# -- add and change ---------------------------------------------------------------------------


def test_add_creates_through_the_service_and_enqueues_a_push(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:telephony_phonenumber_add"), form_data(e164="(415) 555-0123")
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    number = PhoneNumber.objects.get()
    assert number.e164 == "+14155550123"
    assert number.sync_state == PhoneNumber.SyncState.PENDING
    assert number.outbound_password == PASSWORD
    assert number.inbound_allowed_addresses == ["54.172.60.0/30", "54.172.60.4/30"]
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"e164": "415 555"}, "is not a valid phone number"),
        ({"e164": "call me"}, "is not a phone number"),
        ({"inbound_allowed_addresses": "10.0.0.0/8\nnope"}, "&#x27;nope&#x27; is not an IP"),
        ({"outbound_address": ""}, "Outbound calls need the SIP address"),
        ({"outbound_address": "acme:pw@sip.example"}, "Do not put credentials in the address"),
    ],
)
def test_add_shows_clear_errors(admin_client, overrides, message):
    response = admin_client.post(reverse("admin:telephony_phonenumber_add"), form_data(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PhoneNumber.objects.exists()


def test_add_refuses_a_duplicate(admin_client, number):
    response = admin_client.post(
        reverse("admin:telephony_phonenumber_add"), form_data(e164="415-555-0123")
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert PhoneNumber.objects.count() == 1


def test_change_with_an_empty_password_keeps_it(admin_client, number):
    data = form_data(label="Support", outbound_password="")
    del data["e164"]  # read-only once created

    response = admin_client.post(change_url(number), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    number.refresh_from_db()
    assert number.label == "Support"
    assert number.outbound_password == PASSWORD
    assert number.sync_state == PhoneNumber.SyncState.PENDING


def test_change_of_address_with_an_empty_password_asks_for_the_password(admin_client, number):
    data = form_data(outbound_address="sip.elsewhere.example", outbound_password="")
    del data["e164"]

    response = admin_client.post(change_url(number), data)

    assert response.status_code == 200
    assert "enter the SIP password for the new address" in response.content.decode()
    assert PASSWORD not in response.content.decode()
    number.refresh_from_db()
    assert number.outbound_address == "sip.carrier.example"
    assert number.outbound_password == PASSWORD
    assert number.sync_state == PhoneNumber.SyncState.SYNCED

    data["outbound_password"] = "for-elsewhere-1"
    response = admin_client.post(change_url(number), data)
    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.outbound_address, number.outbound_password) == (
        "sip.elsewhere.example",
        "for-elsewhere-1",
    )


def test_change_with_a_new_password_replaces_it(admin_client, number):
    data = form_data(outbound_password="brand-new-secret")
    del data["e164"]

    admin_client.post(change_url(number), data)

    number.refresh_from_db()
    assert number.outbound_password == "brand-new-secret"


def test_the_password_never_appears_in_admin_pages(admin_client, number, simulator):
    simulator.update_number(number.e164, {"inbound_config": {"pipeline_id": "pipe-x"}})
    phone_numbers_reconcile()  # fills remote_snapshot and differences

    pages = [
        admin_client.get(reverse(CHANGELIST)),
        admin_client.get(change_url(number)),
        admin_client.get(reverse(CHANGELIST) + "?q=Sales"),
        admin_client.get(reverse("admin:telephony_phonenumber_history", args=[number.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        assert PASSWORD not in page.content.decode()
    change_page = pages[1].content.decode()
    assert "Leave empty to keep the current password" in change_page
    assert 'name="outbound_password"' in change_page
    assert "inbound pipeline id: here none, in Agora &#x27;pipe-x&#x27;" in change_page
    number.refresh_from_db()
    assert PASSWORD not in str(number.pushed_config) + str(number.remote_snapshot)


def test_view_only_staff_do_not_get_the_password_as_a_read_only_field(client, number):
    viewer = User.objects.create_user("viewer", password="viewer-pass-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_phonenumber"))
    client.force_login(viewer)

    page = client.get(change_url(number))

    assert page.status_code == 200
    assert PASSWORD not in page.content.decode()
    assert "outbound_password" not in page.content.decode()


def test_the_remote_snapshot_masks_credentials(admin_client, number):
    PhoneNumber.objects.filter(pk=number.pk).update(
        remote_snapshot={"phone_number": number.e164, "outbound_config": {"password": "leaked!"}}
    )

    page = admin_client.get(change_url(number)).content.decode()

    assert "leaked!" not in page
    assert "********" in page


# -- delete -----------------------------------------------------------------------------------


def test_delete_marks_the_number_deleting_and_enqueues_the_push(
    admin_client, number, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(delete_url(number), {"post": "yes"})

    assert response.status_code == 302
    assert response.url == reverse(CHANGELIST)
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.DELETING
    assert len(callbacks) == 1
    assert any("being deleted in Agora" in text for text in texts(response))


def test_delete_with_live_calls_is_refused_with_a_message(admin_client, number):
    live_call(number)

    response = admin_client.post(delete_url(number), {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert "+14155550123 has 1 live call" in response.content.decode()
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert response.redirect_chain[-1][0] == change_url(number)


def test_the_delete_page_itself_says_why_it_is_refused(admin_client, number):
    register_delete_guard(lambda n: "Campaign 'Spring' is running with this number.")

    response = admin_client.get(delete_url(number), follow=True)

    assert "Campaign &#x27;Spring&#x27; is running with this number." in response.content.decode()
    assert PhoneNumber.objects.filter(pk=number.pk).exists()


def test_a_refusal_found_only_at_delete_time_is_shown_not_raised(admin_client, number, monkeypatch):
    # The guard objects only inside the service (e.g. a call went live meanwhile).
    monkeypatch.setattr("telephony.admin.numbers.phone_number_delete_refusals", lambda n: [])
    live_call(number)

    response = admin_client.post(delete_url(number), {"post": "yes"}, follow=True)

    assert "has 1 live call" in response.content.decode()
    assert "deleted" not in " ".join(texts(response)).replace("not deleted", "")
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED


def test_bulk_delete_deletes_what_it_may_and_reports_refusals(admin_client, number):
    never_pushed = phone_number_create(
        e164="+12025550199", label="Spare", outbound_address="sip.carrier.example"
    )
    live_call(number)

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [number.pk, never_pushed.pk],
         "post": "yes"},
        follow=True,
    )  # fmt: skip

    page = response.content.decode()
    assert "+14155550123 was not deleted" in page
    assert "Deleted 1; being deleted in Agora: 0." in page
    assert "Successfully deleted" not in page
    assert list(PhoneNumber.objects.values_list("e164", flat=True)) == ["+14155550123"]


# -- actions ----------------------------------------------------------------------------------


def test_push_selected_enqueues_one_push_per_number(
    admin_client, number, django_capture_on_commit_callbacks
):
    PhoneNumber.objects.filter(pk=number.pk).update(sync_state=PhoneNumber.SyncState.ERROR)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "push_selected", "_selected_action": [number.pk]}
        )

    assert response.status_code == 302
    assert len(callbacks) == 1
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.PENDING


def test_sync_button_reconciles_inline(admin_client, agora, simulator):
    simulator.import_number(
        {"provider": "byo", "phone_number": "+12025550199", "label": "From Agora",
         "inbound_config": {}, "outbound_config": {"address": "sip.x.example"}}
    )  # fmt: skip

    changelist = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Sync from Agora" in changelist
    response = admin_client.post(reverse("admin:telephony_phonenumber_sync"), follow=True)

    assert "1 new here" in response.content.decode()
    adopted = PhoneNumber.objects.get(e164="+12025550199")
    assert adopted.origin == PhoneNumber.Origin.AGORA
    assert admin_client.get(reverse("admin:telephony_phonenumber_sync")).status_code == 405


def test_sync_action_reconciles_inline(admin_client, number, simulator):
    simulator.delete_number(number.e164)

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "sync_from_agora", "_selected_action": [number.pk]},
        follow=True,
    )

    assert "1 missing in Agora" in response.content.decode()
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.MISSING


def test_search_finds_a_number_typed_in_national_format(admin_client, number):
    response = admin_client.get(reverse(CHANGELIST), {"q": "(415) 555-0123"})

    assert response.context["cl"].result_count == 1


# -- performance ------------------------------------------------------------------------------


def _make_numbers(count: int) -> None:
    PhoneNumber.objects.bulk_create(
        PhoneNumber(e164=f"+1415555{index:04d}", label=f"Line {index}") for index in range(count)
    )


def _changelist_queries(admin_client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return len(captured)


def test_changelist_queries_do_not_grow_with_the_number_of_numbers(admin_client):
    _make_numbers(3)
    admin_client.get(reverse(CHANGELIST))  # warm the session
    few = _changelist_queries(admin_client)

    PhoneNumber.objects.all().delete()
    _make_numbers(30)
    many = _changelist_queries(admin_client)

    assert few == many
