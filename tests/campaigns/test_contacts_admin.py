"""The admin of contact lists, contacts and the do-not-call list: pages render, uploads work,
import progress is served as JSON, and writes go through the services."""

import json
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import tasks
from campaigns.models import (
    Campaign,
    CampaignContact,
    Contact,
    ContactImport,
    ContactList,
    DoNotCall,
    DoNotCallImport,
)
from campaigns.services.contacts import contact_import_run, contact_import_start
from campaigns.services.dnc import dnc_add, dnc_remove
from telephony.models import AgentProfile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("var_dir")]


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def csv_file(text: str | bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, text.encode() if isinstance(text, str) else text, content_type="text/csv"
    )


def imported(contact_list: ContactList, text: str) -> ContactImport:
    record = contact_import_start(
        contact_list=contact_list, uploaded_file=csv_file(text), file_name="c.csv"
    )
    return contact_import_run(import_id=record.pk)


def change_url(contact_list: ContactList) -> str:
    return reverse("admin:campaigns_contactlist_change", args=[contact_list.pk])


def import_url(contact_list: ContactList) -> str:
    return reverse("admin:campaigns_contactlist_import", args=[contact_list.pk])


def progress_url(record: ContactImport) -> str:
    return reverse(
        "admin:campaigns_contactlist_import_progress", args=[record.contact_list_id, record.pk]
    )


# -- contact lists ----------------------------------------------------------------------------


def test_changelist_shows_counts_and_last_import(admin_client, contact_list):
    imported(contact_list, "phone\n+14155550100\n+14155550101\n")
    ContactList.objects.create(name="Empty")

    response = admin_client.get(reverse("admin:campaigns_contactlist_changelist"))

    assert response.status_code == 200
    rows = {row.name: row for row in response.context["cl"].result_list}
    assert rows["Customers"].contact_total == 2
    assert rows["Customers"].last_import_status == ContactImport.Status.DONE
    assert rows["Empty"].contact_total == 0
    assert rows["Empty"].last_import_status is None
    html = response.content.decode()
    assert f"?contact_list__id__exact={contact_list.pk}" in html
    assert "import-status-done" in html


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:campaigns_contactlist_changelist"))
    assert response.status_code == 200
    return len(queries)


def test_changelist_query_count_does_not_grow_with_the_lists(admin_client):
    def make_lists(count: int) -> None:
        for _ in range(count):
            contact_list = ContactList.objects.create(name=f"list {ContactList.objects.count()}")
            Contact.objects.create(contact_list=contact_list, phone="+14155550100")
            ContactImport.objects.create(contact_list=contact_list, file_name="a.csv")

    make_lists(2)
    with_two = _changelist_queries(admin_client)
    make_lists(18)
    with_twenty = _changelist_queries(admin_client)

    assert ContactList.objects.count() == 20
    assert with_twenty == with_two


def test_change_page_shows_imports_with_counters_and_first_errors(admin_client, contact_list):
    record = imported(contact_list, "phone,first_name\n+14155550100,Ada\n<b>bad</b>,Bob\n")

    response = admin_client.get(change_url(contact_list))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="contact-imports"' in html
    assert import_url(contact_list) in html  # the "Import CSV" button
    assert progress_url(record) in html
    assert 'data-active="false"' in html
    assert "line 3:" in html
    assert "&lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad</b>" not in html  # escaped
    assert "setTimeout(poll, INTERVAL)" in html  # the polling script, inline


def test_a_running_import_is_marked_for_polling(admin_client, contact_list):
    record = ContactImport.objects.create(
        contact_list=contact_list, file_name="big.csv", status=ContactImport.Status.RUNNING
    )

    html = admin_client.get(change_url(contact_list)).content.decode()

    assert f'data-import-id="{record.pk}"' in html
    assert 'data-active="true"' in html


def test_import_page_renders(admin_client, contact_list):
    response = admin_client.get(import_url(contact_list))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html
    change_url = reverse("admin:campaigns_contactlist_change", args=[contact_list.pk])
    assert 'id="contact-import-form"' in html and 'value="Upload and import"' in html
    assert f'<a href="{change_url}" class="closelink">Cancel</a>' in html
    assert f'&rsaquo; <a href="{change_url}">{contact_list.name}</a>' in html
    assert "<strong>timezone</strong>" in html


def test_do_not_call_import_page_renders(admin_client):
    html = admin_client.get(reverse("admin:campaigns_donotcall_import")).content.decode()

    changelist = reverse("admin:campaigns_donotcall_changelist")
    assert 'id="dnc-import-form"' in html and 'value="Upload and add"' in html
    assert f'<a href="{changelist}" class="closelink">Cancel</a>' in html
    assert "<strong>reason</strong> (optional)" in html


def test_upload_starts_an_import_queued_on_commit(
    admin_client, contact_list, var_dir, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.import_contacts, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            import_url(contact_list),
            {"file": csv_file("phone,first_name\n+14155550100,Ada\n", name="my list.csv")},
        )

    assert response.status_code == 302
    assert response["Location"].startswith(change_url(contact_list))
    record = ContactImport.objects.get()
    assert (record.contact_list, record.file_name, record.status) == (
        contact_list,
        "my list.csv",
        ContactImport.Status.PENDING,
    )
    delay.assert_called_once_with(record.pk)
    assert (var_dir / record.stored_path).is_file()
    assert any("being imported" in text for text in texts(response))

    # the worker's part, then the page shows the outcome
    contact_import_run(import_id=record.pk)
    assert Contact.objects.get().first_name == "Ada"


def test_upload_without_a_file_shows_the_form_again(admin_client, contact_list):
    response = admin_client.post(import_url(contact_list), {})

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not ContactImport.objects.exists()


def test_upload_needs_the_change_permission(client, contact_list):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_contactlist"))
    client.force_login(viewer)

    response = client.post(import_url(contact_list), {"file": csv_file("phone\n+14155550100\n")})

    assert response.status_code == 403
    assert not ContactImport.objects.exists()
    # the progress JSON only needs the view permission
    record = ContactImport.objects.create(contact_list=contact_list, file_name="a.csv")
    assert client.get(progress_url(record)).status_code == 200


def test_an_import_that_rejected_rows_says_so_in_amber_and_gives_them_as_csv(
    admin_client, contact_list
):
    record = imported(
        contact_list, "phone,first_name\n+14155550100,Ada\n=cmd|' /C calc'!A0,Eve\nbad,Bob\n"
    )
    rejected_url = reverse(
        "admin:campaigns_contactlist_import_rejected", args=[contact_list.pk, record.pk]
    )

    html = admin_client.get(change_url(contact_list)).content.decode()
    assert 'import-status-partial">Done, 2 of 3 rows rejected</span>' in html
    assert f'<a href="{rejected_url}" class="import-rejected-csv">' in html
    assert '<details data-field="errors" open>' in html
    listing = admin_client.get(reverse("admin:campaigns_contactlist_changelist")).content.decode()
    assert "Done, 2 of 3 rows rejected" in listing

    response = admin_client.get(rejected_url)
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"] == 'attachment; filename="c-rejected.csv"'
    lines = body.splitlines()
    assert lines[0] == "line,reason" and len(lines) == 3
    assert lines[1].startswith("3,") and "'=cmd" in lines[1]  # kept as text, not a formula
    assert admin_client.post(rejected_url).status_code == 405


def test_the_contact_count_on_the_lists_page_follows_the_import(admin_client, contact_list):
    html = admin_client.get(change_url(contact_list)).content.decode()
    assert '<span data-import-total="contact_total" id="contact-total">0</span>' in html

    record = imported(contact_list, "phone\n+14155550100\n+14155550101\n")
    data = json.loads(admin_client.get(progress_url(record)).content)
    assert data["contact_total"] == 2 and data["badge_key"] == "done"


def test_progress_json(admin_client, contact_list):
    record = imported(contact_list, "phone\n+14155550100\n+14155550100\nbad\n")

    response = admin_client.get(progress_url(record))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["id"] == record.pk
    assert data["status"] == "done"
    assert data["active"] is False
    assert (data["rows_read"], data["imported"], data["merged"], data["invalid"]) == (3, 1, 1, 1)
    assert data["errors"] == [{"line": 4, "reason": mock.ANY}]
    assert data["finished_at"]


def test_progress_json_follows_a_running_import(admin_client, contact_list):
    record = ContactImport.objects.create(
        contact_list=contact_list,
        file_name="big.csv",
        status=ContactImport.Status.RUNNING,
        rows_read=4000,
        imported=3990,
        invalid=10,
    )

    data = json.loads(admin_client.get(progress_url(record)).content)

    assert (data["status"], data["active"], data["rows_read"], data["imported"]) == (
        "running",
        True,
        4000,
        3990,
    )


def test_progress_json_of_another_lists_import_is_404(admin_client, contact_list):
    other = ContactList.objects.create(name="Other")
    record = ContactImport.objects.create(contact_list=other, file_name="a.csv")

    url = reverse("admin:campaigns_contactlist_import_progress", args=[contact_list.pk, record.pk])

    assert admin_client.get(url).status_code == 404


def test_progress_json_needs_a_staff_login(client, contact_list):
    record = ContactImport.objects.create(contact_list=contact_list, file_name="a.csv")

    response = client.get(progress_url(record))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


# -- contacts ---------------------------------------------------------------------------------


def test_contact_changelist_filters_and_searches(admin_client, contact_list):
    other = ContactList.objects.create(name="Other")
    Contact.objects.create(contact_list=contact_list, phone="+14155550100", first_name="Ada")
    Contact.objects.create(contact_list=other, phone="+14155550101", first_name="Bob")
    url = reverse("admin:campaigns_contact_changelist")

    filtered = admin_client.get(url, {"contact_list__id__exact": other.pk})
    searched = admin_client.get(url, {"q": "(415) 555-0100"})
    by_name = admin_client.get(url, {"q": "bob"})

    assert [c.phone for c in filtered.context["cl"].result_list] == ["+14155550101"]
    assert [c.phone for c in searched.context["cl"].result_list] == ["+14155550100"]
    assert [c.first_name for c in by_name.context["cl"].result_list] == ["Bob"]


def test_contact_changelist_query_count_does_not_grow(admin_client, contact_list):
    url = reverse("admin:campaigns_contact_changelist")
    for index in range(2):
        Contact.objects.create(contact_list=contact_list, phone=f"+1415555010{index}")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for index in range(2, 20):
        lst = ContactList.objects.create(name=f"l{index}")
        Contact.objects.create(contact_list=lst, phone=f"+141555501{index:02d}")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few)


def test_contact_add_normalises_the_number_and_checks_the_time_zone(admin_client, contact_list):
    url = reverse("admin:campaigns_contact_add")
    data = {
        "contact_list": contact_list.pk,
        "phone": "(415) 555-0100",
        "first_name": "Ada",
        "timezone": "Mars/Base",
        "variables": "{}",
    }

    refused = admin_client.post(url, data)
    assert refused.status_code == 200
    assert "timezone" in refused.context["adminform"].form.errors

    accepted = admin_client.post(url, {**data, "timezone": "europe/paris"})
    assert accepted.status_code == 302
    contact = Contact.objects.get()
    assert (contact.phone, contact.timezone) == ("+14155550100", "Europe/Paris")


# -- do-not-call ------------------------------------------------------------------------------


@pytest.fixture
def waiting_entry(contact_list) -> CampaignContact:
    agent = AgentProfile.objects.create(name="Bot", pipeline_id="p-1")
    campaign = Campaign.objects.create(name="Reminders", agent_profile=agent)
    contact = Contact.objects.create(contact_list=contact_list, phone="+14155550100")
    return CampaignContact.objects.create(campaign=campaign, contact=contact)


def test_dnc_changelist_renders_with_the_import_button(admin_client):
    dnc_add(phone="+14155550100", reason="asked")

    response = admin_client.get(reverse("admin:campaigns_donotcall_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "+14155550100" in html
    assert reverse("admin:campaigns_donotcall_import") in html


def test_dnc_add_through_the_admin_uses_the_service(admin_client, waiting_entry):
    response = admin_client.post(
        reverse("admin:campaigns_donotcall_add"),
        {"phone": "415 555 0100", "reason": "asked", "_save": "Save"},
    )

    assert response.status_code == 302
    entry = DoNotCall.objects.get()
    assert (entry.phone, entry.reason, entry.source) == ("+14155550100", "asked", "staff")
    waiting_entry.refresh_from_db()
    assert waiting_entry.status == CampaignContact.Status.DO_NOT_CALL


def test_dnc_adding_a_listed_number_again_keeps_one_entry(admin_client):
    dnc_add(phone="+14155550100", reason="first")

    response = admin_client.post(
        reverse("admin:campaigns_donotcall_add"),
        {"phone": "+14155550100", "reason": "second", "_save": "Save"},
    )

    assert response.status_code == 302
    assert list(DoNotCall.objects.values_list("phone", "reason")) == [("+14155550100", "second")]


def test_dnc_delete_through_the_admin(admin_client):
    entry = dnc_add(phone="+14155550100")
    url = reverse("admin:campaigns_donotcall_delete", args=[entry.pk])

    with mock.patch("campaigns.admin.dnc.dnc_remove", wraps=dnc_remove) as remove:
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    remove.assert_called_once_with(phone="+14155550100")
    assert not DoNotCall.objects.exists()


def test_dnc_bulk_delete_through_the_admin(admin_client):
    entries = [dnc_add(phone=f"+1415555010{index}") for index in range(3)]

    response = admin_client.post(
        reverse("admin:campaigns_donotcall_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [entries[0].pk, entries[1].pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert list(DoNotCall.objects.values_list("phone", flat=True)) == ["+14155550102"]


DNC_IMPORT_URL = reverse("admin:campaigns_donotcall_import")


def dnc_progress_url(record: DoNotCallImport) -> str:
    return reverse("admin:campaigns_donotcall_import_progress", args=[record.pk])


def test_dnc_upload_is_queued_and_a_worker_adds_the_numbers(
    admin_client, waiting_entry, var_dir, django_capture_on_commit_callbacks
):
    assert admin_client.get(DNC_IMPORT_URL).status_code == 200

    with (
        mock.patch.object(tasks.import_do_not_call, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            DNC_IMPORT_URL,
            {"file": csv_file("phone,reason\n+14155550100,asked\nrubbish,\n", name="dnc.csv")},
        )

    assert response.status_code == 302
    assert response["Location"] == f"{DNC_IMPORT_URL}#dnc-imports"
    record = DoNotCallImport.objects.get()
    assert (record.file_name, record.status) == ("dnc.csv", DoNotCallImport.Status.PENDING)
    delay.assert_called_once_with(record.pk)
    assert (var_dir / record.stored_path).is_file()
    assert not DoNotCall.objects.exists()  # nothing is added in the request itself
    assert any("being added to the do-not-call list" in text for text in texts(response))

    # the worker's part
    assert tasks.import_do_not_call(record.pk) == "done"
    assert DoNotCall.objects.get().phone == "+14155550100"
    waiting_entry.refresh_from_db()
    assert waiting_entry.status == CampaignContact.Status.DO_NOT_CALL
    assert not (var_dir / record.stored_path).exists()

    # the page shows the outcome: counters, summary and the rows not added
    html = admin_client.get(DNC_IMPORT_URL).content.decode()
    assert 'id="dnc-imports"' in html and dnc_progress_url(record) in html
    assert "2 rows read: 1 numbers added, 0 already on the list, 1 invalid" in html
    assert "line 3:" in html and "rubbish" in html
    assert 'data-active="false"' in html


def test_dnc_import_of_a_bad_file_shows_the_reason_on_the_page(admin_client):
    admin_client.post(DNC_IMPORT_URL, {"file": csv_file("number\n+14155550100\n")})
    record = DoNotCallImport.objects.get()

    tasks.import_do_not_call(record.pk)

    record.refresh_from_db()
    assert record.status == DoNotCallImport.Status.FAILED
    html = admin_client.get(DNC_IMPORT_URL).content.decode()
    assert "no &#x27;phone&#x27; column" in html
    assert not DoNotCall.objects.exists()


def test_dnc_upload_over_the_size_cap_is_a_form_error_and_nothing_is_stored(
    admin_client, settings, var_dir
):
    settings.DNC_IMPORT_MAX_BYTES = 10

    response = admin_client.post(DNC_IMPORT_URL, {"file": csv_file("phone\n+14155550100\n")})

    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert "limited to" in errors[0] and "DNC_IMPORT_MAX_BYTES" in errors[0]
    assert not DoNotCallImport.objects.exists()
    assert not any((var_dir / "uploads").glob("*"))


def test_dnc_upload_needs_the_add_permission(client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_donotcall"))
    client.force_login(viewer)

    response = client.post(DNC_IMPORT_URL, {"file": csv_file("phone\n+14155550100\n")})

    assert response.status_code == 403
    assert not DoNotCallImport.objects.exists()


def test_dnc_progress_json_follows_a_running_import(client, admin_client):
    record = DoNotCallImport.objects.create(
        file_name="big.csv", status=DoNotCallImport.Status.RUNNING, rows_read=4000, added=3990,
        invalid=10, errors=[{"line": 7, "reason": "phone is empty."}],
    )  # fmt: skip

    data = json.loads(admin_client.get(dnc_progress_url(record)).content)

    assert (data["status"], data["active"], data["rows_read"], data["added"]) == (
        "running", True, 4000, 3990,
    )  # fmt: skip
    assert data["errors"] == [{"line": 7, "reason": "phone is empty."}]
    html = admin_client.get(DNC_IMPORT_URL).content.decode()
    assert f'data-import-id="{record.pk}"' in html and 'data-active="true"' in html
    # staff without the view permission, and anonymous callers, get nothing
    assert client.get(dnc_progress_url(record)).status_code == 302
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(dnc_progress_url(record)).status_code == 403
    missing = reverse("admin:campaigns_donotcall_import_progress", args=[record.pk + 1])
    assert admin_client.get(missing).status_code == 404


def test_contact_upload_over_the_size_cap_is_a_form_error(admin_client, contact_list, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 10

    response = admin_client.post(
        import_url(contact_list), {"file": csv_file("phone\n+14155550100\n")}
    )

    assert response.status_code == 200
    assert "CONTACT_IMPORT_MAX_BYTES" in response.context["form"].errors["file"][0]
    assert not ContactImport.objects.exists()
