"""Phone-number services against the in-process simulator: create, push, delete, reconcile."""

import json

import pytest
from django.core.exceptions import ValidationError

from telephony.agora import AgoraError, BadRequest, ServerError
from telephony.models import PhoneNumber
from telephony.services import numbers as services
from telephony.services.numbers import (
    phone_number_check,
    phone_number_create,
    phone_number_delete,
    phone_number_push,
    phone_number_request_push,
    phone_number_update,
    phone_numbers_reconcile,
    register_delete_guard,
)
from telephony.states import CallStatus
from telephony.validators import sip_address_problem
from tests.support.factories import CallFactory

pytestmark = pytest.mark.django_db

PASSWORD = "trunk-pass-4242"


@pytest.fixture(autouse=True)
def _no_guards(monkeypatch):
    """Each test starts with no registered delete guards (and leaves none behind)."""
    monkeypatch.setattr(services, "DELETE_GUARDS", [])


def create(**overrides) -> PhoneNumber:
    fields = {
        "e164": "+14155550123",
        "label": "Sales",
        "outbound_address": "sip.carrier.example",
        "outbound_user": "acme",
        "outbound_password": PASSWORD,
        "inbound_allowed_addresses": ["54.172.60.0/30"],
    }
    return phone_number_create(**{**fields, **overrides})


def pushed(**overrides) -> PhoneNumber:
    number = create(**overrides)
    assert phone_number_push(number_id=number.pk).startswith("imported")
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    return number


def counts(simulator) -> dict[str, int]:
    keys = ("import_phone_number", "delete_phone_number", "update_phone_number")
    return {key: simulator.ledger.request_counts[key] for key in keys}


def sim_import(simulator, e164: str, **overrides) -> None:
    body = {
        "provider": "byo",
        "phone_number": e164,
        "label": "Sales",
        "inbound": True,
        "outbound": True,
        "inbound_config": {"allowed_addresses": ["54.172.60.0/30"]},
        "outbound_config": {"address": "sip.carrier.example", "transport": "tls"},
    }
    simulator.import_number({**body, **overrides})


def stored_text(number: PhoneNumber) -> str:
    number.refresh_from_db()
    return json.dumps(
        [number.pushed_config, number.remote_snapshot, number.last_error, number.differences]
    )


# -- create and update ------------------------------------------------------------------------


def test_create_normalises_the_number_and_enqueues_a_push_on_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("telephony.tasks.push_phone_number.delay", sent.append)

    with django_capture_on_commit_callbacks(execute=True):
        number = create(e164="(415) 555-0123")

    assert number.e164 == "+14155550123"
    assert number.sync_state == PhoneNumber.SyncState.PENDING
    assert number.origin == PhoneNumber.Origin.LOCAL
    assert sent == [number.pk]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"e164": "hello"}, "e164", "is not a phone number"),
        ({"e164": "+1 415 555"}, "e164", "not a valid phone number"),
        ({"inbound_allowed_addresses": ["10.0.0.0/8", "nope"]}, "inbound_allowed_addresses",
         "'nope' is not an IP address"),
        ({"outbound_address": ""}, "outbound_address", "SIP address"),
        ({"outbound_address": "acme:pw@sip.example"}, "outbound_address", "credentials"),
        ({"label": ""}, "label", "cannot be blank"),
        ({"outbound_transport": "xyz"}, "outbound_transport", "not a valid choice"),
    ],
)  # fmt: skip
def test_create_refuses_invalid_settings_naming_the_field(overrides, field, words):
    with pytest.raises(ValidationError) as caught:
        create(**overrides)

    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])
    assert not PhoneNumber.objects.exists()


def test_create_refuses_a_duplicate_number_even_written_differently():
    create()

    with pytest.raises(ValidationError) as caught:
        create(e164="415-555-0123")

    assert caught.value.message_dict["e164"] == ["+14155550123 is already in the list of numbers."]


def test_outbound_off_needs_no_address():
    number = create(outbound=False, outbound_address="", outbound_user="", outbound_password="")

    assert number.pk


def test_update_keeps_the_password_when_none_is_given(django_capture_on_commit_callbacks):
    number = create()

    with django_capture_on_commit_callbacks() as callbacks:
        updated = phone_number_update(number=number, label="Support", outbound_password="")

    assert updated.label == "Support"
    assert updated.outbound_password == PASSWORD
    assert updated.sync_state == PhoneNumber.SyncState.PENDING
    assert len(callbacks) == 1


def test_update_keeps_the_password_only_for_the_same_address():
    number = create()

    with pytest.raises(ValidationError) as caught:
        phone_number_update(number=number, outbound_address="sip.elsewhere.example")

    [message] = caught.value.message_dict["outbound_password"]
    assert "enter the SIP password for the new address" in message
    assert PASSWORD not in message
    number.refresh_from_db()
    assert (number.outbound_address, number.outbound_password) == ("sip.carrier.example", PASSWORD)
    # the same address, written differently only by spaces, keeps it
    kept = phone_number_update(number=number, outbound_address=" sip.carrier.example ")
    assert kept.outbound_password == PASSWORD
    # a new address with its own password is fine
    moved = phone_number_update(
        number=number, outbound_address="sip.elsewhere.example", outbound_password="new-pass-1"
    )
    assert moved.outbound_password == "new-pass-1"


def test_update_drops_the_kept_password_when_the_address_goes():
    number = create()

    updated = phone_number_update(number=number, outbound=False, outbound_address="")

    assert updated.outbound_password == ""
    number.refresh_from_db()
    assert number.outbound_password == ""


def test_update_validates_like_create_and_refuses_unknown_fields():
    number = create()

    with pytest.raises(ValidationError) as caught:
        phone_number_update(number=number, outbound_address="")
    assert "outbound_address" in caught.value.message_dict
    with pytest.raises(TypeError, match="sync_state"):
        phone_number_update(number=number, sync_state="synced")
    number.refresh_from_db()
    assert number.outbound_address == "sip.carrier.example"


def test_the_number_itself_cannot_change_once_pushed(agora):
    number = pushed()

    with pytest.raises(ValidationError) as caught:
        phone_number_update(number=number, e164="+12025550199")

    assert "cannot change" in caught.value.message_dict["e164"][0]


# -- pushing ----------------------------------------------------------------------------------


def test_push_imports_a_new_number_into_agora(agora, simulator):
    number = pushed()

    remote = agora.get_phone_number("+14155550123")
    assert remote.label == "Sales"
    assert remote.outbound_config["address"] == "sip.carrier.example"
    assert [n["phone_number"] for n in simulator.list_numbers()] == ["+14155550123"]
    assert counts(simulator) == {
        "import_phone_number": 1,
        "delete_phone_number": 0,
        "update_phone_number": 0,
    }
    assert number.last_synced_at is not None
    assert number.last_error == ""
    assert number.differences == []
    assert number.remote_snapshot["phone_number"] == "+14155550123"
    assert number.pushed_config["label"] == "Sales"
    assert number.pushed_config["outbound_password_fingerprint"]
    assert PASSWORD not in stored_text(number)


def test_push_binds_pipelines_after_the_import(agora, simulator):
    pushed_number = create(inbound_pipeline_id="pipe-in", outbound_pipeline_id="pipe-out")

    assert phone_number_push(number_id=pushed_number.pk) == "imported, pipelines updated"

    remote = agora.get_phone_number("+14155550123")
    assert remote.inbound_config["pipeline_id"] == "pipe-in"
    assert remote.outbound_config["pipeline_id"] == "pipe-out"
    assert simulator.ledger.request_counts["update_phone_number"] == 1


def test_a_label_change_deletes_and_imports_again(agora, simulator):
    number = pushed()

    number = phone_number_update(number=number, label="Sales line")
    assert phone_number_push(number_id=number.pk) == "deleted, imported"

    assert agora.get_phone_number("+14155550123").label == "Sales line"
    assert counts(simulator) == {
        "import_phone_number": 2,
        "delete_phone_number": 1,
        "update_phone_number": 0,
    }
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert number.pushed_config["label"] == "Sales line"


def test_a_new_password_is_noticed_and_reimported(agora, simulator):
    number = pushed()
    fingerprint = number.pushed_config["outbound_password_fingerprint"]

    number = phone_number_update(number=number, outbound_password="another-secret-99")
    phone_number_push(number_id=number.pk)

    number.refresh_from_db()
    assert simulator.ledger.request_counts["import_phone_number"] == 2
    assert number.pushed_config["outbound_password_fingerprint"] != fingerprint
    assert "another-secret-99" not in stored_text(number)


def test_a_pipeline_change_is_a_patch_only(agora, simulator):
    number = pushed(inbound_pipeline_id="pipe-a")
    before = counts(simulator)

    number = phone_number_update(number=number, inbound_pipeline_id="pipe-b")
    assert phone_number_push(number_id=number.pk) == "pipelines updated"

    assert agora.get_phone_number("+14155550123").inbound_config["pipeline_id"] == "pipe-b"
    after = counts(simulator)
    assert after["update_phone_number"] == before["update_phone_number"] + 1
    assert after["import_phone_number"] == before["import_phone_number"]
    assert after["delete_phone_number"] == before["delete_phone_number"] == 0


def test_an_empty_pipeline_id_clears_it_in_agora(agora, simulator):
    number = pushed(outbound_pipeline_id="pipe-out")

    number = phone_number_update(number=number, outbound_pipeline_id="")
    phone_number_push(number_id=number.pk)

    assert agora.get_phone_number("+14155550123").outbound_config is None
    number.refresh_from_db()
    assert number.pushed_config["outbound_pipeline_id"] == ""
    assert number.sync_state == PhoneNumber.SyncState.SYNCED


def test_pushing_an_unchanged_number_changes_nothing_in_agora(agora, simulator):
    number = pushed()
    before = counts(simulator)

    assert phone_number_push(number_id=phone_number_request_push(number=number).pk) == (
        "up to date"
    )

    assert counts(simulator) == before
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED


def test_a_change_made_during_the_push_leaves_the_number_pending(agora, monkeypatch):
    number = create()
    real_get = agora.get_phone_number

    def get_while_staff_edits(e164):
        PhoneNumber.objects.filter(pk=number.pk).update(label="Edited meanwhile")
        return real_get(e164)

    monkeypatch.setattr(agora, "get_phone_number", get_while_staff_edits)
    phone_number_push(number_id=number.pk)

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.PENDING
    assert number.pushed_config["label"] == "Sales"


def test_a_number_that_vanished_from_agora_is_imported_again(agora, simulator):
    number = pushed()
    simulator.delete_number("+14155550123")

    assert phone_number_push(number_id=number.pk) == "missing in Agora, imported"

    assert agora.get_phone_number("+14155550123").label == "Sales"


# -- 409 and errors ---------------------------------------------------------------------------


def test_first_import_409_with_other_settings_is_recorded_not_overwritten(agora, simulator):
    sim_import(simulator, "+14155550123", label="Sales line")
    number = create()

    assert phone_number_push(number_id=number.pk) == "error"

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.ERROR
    assert "409 phone_number_exists" in number.last_error
    assert "label: here 'Sales', in Agora 'Sales line'" in number.differences
    assert agora.get_phone_number("+14155550123").label == "Sales line"
    assert number.remote_snapshot["label"] == "Sales line"
    assert PASSWORD not in stored_text(number)

    # Pushing again replaces Agora's settings with ours.
    phone_number_request_push(number=number)
    assert phone_number_push(number_id=number.pk) == "deleted, imported"
    assert agora.get_phone_number("+14155550123").label == "Sales"
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert number.differences == []


def test_first_import_409_with_the_same_settings_counts_as_imported(agora, simulator):
    # e.g. our own earlier import whose answer was lost
    sim_import(simulator, "+14155550123")
    number = create()

    assert phone_number_push(number_id=number.pk) == "already in Agora"

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert simulator.ledger.request_counts["delete_phone_number"] == 0


def test_a_lost_import_answer_is_retried_then_recognised(agora, simulator):
    number = create()
    simulator.inject_fault("lost_response", operation="import_phone_number")

    with pytest.raises(AgoraError) as caught:
        phone_number_push(number_id=number.pk)
    assert caught.value.retryable

    assert phone_number_push(number_id=number.pk) == "already in Agora"
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert len(simulator.list_numbers()) == 1


def test_a_non_retryable_error_is_recorded_without_the_password(agora, monkeypatch):
    short_password = "pw123"  # too short for the process-wide secret registry
    number = create(outbound_password=short_password)

    def refuse(_request):
        raise BadRequest(
            status_code=400,
            reason="invalid_config",
            detail=f"SIP login failed for {short_password}",
        )

    monkeypatch.setattr(agora, "import_phone_number", refuse)
    assert phone_number_push(number_id=number.pk) == "error"

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.ERROR
    assert "invalid_config" in number.last_error
    assert "SIP login failed" in number.last_error
    assert short_password not in number.last_error


def test_an_unprocessable_answer_from_agora_is_an_error(agora, simulator):
    number = create()
    simulator.inject_fault("error", status=422, operation="import_phone_number")

    assert phone_number_push(number_id=number.pk) == "error"

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.ERROR
    assert "422" in number.last_error


def test_a_retryable_error_is_raised_and_the_number_stays_pending(agora, simulator):
    number = create()
    simulator.inject_fault("error", status=503, operation="import_phone_number")

    with pytest.raises(ServerError) as caught:
        phone_number_push(number_id=number.pk)

    assert caught.value.retryable
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.PENDING
    assert "will retry" in number.last_error
    assert number.pushed_config is None


def test_a_failed_reimport_resumes_with_the_import_only(agora, simulator):
    number = pushed()
    number = phone_number_update(number=number, label="Sales line")
    simulator.inject_fault("error", status=503, operation="import_phone_number")

    with pytest.raises(ServerError):
        phone_number_push(number_id=number.pk)
    assert phone_number_push(number_id=number.pk) == "imported"

    assert simulator.ledger.request_counts["delete_phone_number"] == 1
    assert agora.get_phone_number("+14155550123").label == "Sales line"


# -- deleting ---------------------------------------------------------------------------------


def test_delete_removes_the_number_in_agora_then_here(
    agora, simulator, django_capture_on_commit_callbacks
):
    number = pushed()

    with django_capture_on_commit_callbacks() as callbacks:
        assert phone_number_delete(number=number) == "deleting"
    assert len(callbacks) == 1
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.DELETING

    assert phone_number_push(number_id=number.pk) == "deleted"

    assert simulator.list_numbers() == []
    assert not PhoneNumber.objects.filter(pk=number.pk).exists()


def test_delete_of_a_number_already_gone_in_agora_succeeds(agora, simulator):
    number = pushed()
    simulator.delete_number("+14155550123")
    phone_number_delete(number=number)

    assert phone_number_push(number_id=number.pk) == "deleted"

    assert not PhoneNumber.objects.exists()


def test_a_number_never_pushed_is_deleted_at_once(
    agora, simulator, django_capture_on_commit_callbacks
):
    number = create()

    with django_capture_on_commit_callbacks() as callbacks:
        assert phone_number_delete(number=number) == "deleted"

    assert callbacks == []
    assert not PhoneNumber.objects.exists()
    assert sum(simulator.ledger.request_counts.values()) == 0


def test_delete_is_refused_while_the_number_has_live_calls(agora):
    number = pushed()
    for status in [CallStatus.DIALING, CallStatus.ANSWERED, CallStatus.COMPLETED]:
        CallFactory(to_number="+12025550199", caller_id=number, status=status, agent_profile=None)

    with pytest.raises(ValidationError) as caught:
        phone_number_delete(number=number)

    assert "+14155550123 has 2 live calls" in caught.value.messages[0]
    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.SYNCED


def test_delete_is_refused_by_a_registered_guard(agora):
    number = pushed()
    other = create(e164="+12025550199")

    @register_delete_guard
    def campaigns_guard(candidate: PhoneNumber) -> str | None:
        if candidate.e164 == "+14155550123":
            return "Campaign 'Spring' is running with this number."
        return None

    with pytest.raises(ValidationError) as caught:
        phone_number_delete(number=number)

    assert caught.value.messages == ["Campaign 'Spring' is running with this number."]
    assert PhoneNumber.objects.filter(pk=number.pk, sync_state="synced").exists()
    assert phone_number_delete(number=other) == "deleted"


def test_a_deleting_number_cannot_be_changed(agora):
    number = pushed()
    phone_number_delete(number=number)

    with pytest.raises(ValidationError, match="being deleted"):
        phone_number_update(number=number, label="Late change")


# -- reconciling ------------------------------------------------------------------------------


def test_reconcile_adopts_numbers_imported_directly_in_agora(agora, simulator):
    sim_import(
        simulator,
        "+12025550199",
        label="Made in Agora",
        provider="twilio",
        inbound=False,
        outbound_config={"address": "acme.pstn.twilio.com", "transport": "tcp", "prefix": "9",
                         "user": "acme", "password": "agora-side-secret"},
    )  # fmt: skip
    simulator.update_number("+12025550199", {"outbound_config": {"pipeline_id": "pipe-out"}})

    result = phone_numbers_reconcile()

    number = PhoneNumber.objects.get(e164="+12025550199")
    assert result["created"] == 1
    assert number.origin == PhoneNumber.Origin.AGORA
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert (number.label, number.provider, number.inbound, number.outbound) == (
        "Made in Agora", "twilio", False, True,
    )  # fmt: skip
    assert (number.outbound_address, number.outbound_transport, number.outbound_prefix) == (
        "acme.pstn.twilio.com", "tcp", "9",
    )  # fmt: skip
    assert number.outbound_pipeline_id == "pipe-out"
    assert number.outbound_password == ""
    assert number.last_synced_at is not None
    assert "agora-side-secret" not in stored_text(number)

    # A second reconcile finds nothing new and nothing different.
    assert phone_numbers_reconcile()["created"] == 0
    number.refresh_from_db()
    assert number.differences == []


def test_an_adopted_number_is_reimported_when_its_label_changes(agora, simulator):
    sim_import(simulator, "+12025550199", label="Made in Agora")
    phone_numbers_reconcile()
    number = PhoneNumber.objects.get(e164="+12025550199")

    number = phone_number_update(number=number, label="Renamed here")
    assert phone_number_push(number_id=number.pk) == "deleted, imported"

    assert agora.get_phone_number("+12025550199").label == "Renamed here"


def test_an_adopted_number_with_a_sip_user_needs_its_password_before_a_reimport(agora, simulator):
    sim_import(simulator, "+12025550199", label="Made in Agora")
    phone_numbers_reconcile()
    number = PhoneNumber.objects.get(e164="+12025550199")
    number = phone_number_update(number=number, label="Renamed", outbound_user="acme")

    assert phone_number_push(number_id=number.pk) == "error"
    number.refresh_from_db()
    assert "enter the outbound SIP password again" in number.last_error
    assert agora.get_phone_number("+12025550199").label == "Made in Agora"

    number = phone_number_update(number=number, outbound_password=PASSWORD)
    assert phone_number_push(number_id=number.pk) == "deleted, imported"
    assert agora.get_phone_number("+12025550199").label == "Renamed"


def test_reconcile_flags_local_numbers_missing_in_agora(agora, simulator):
    number = pushed()
    never_pushed = create(e164="+12025550199")
    simulator.delete_number("+14155550123")

    result = phone_numbers_reconcile()

    number.refresh_from_db()
    assert result["missing"] == 1
    assert number.sync_state == PhoneNumber.SyncState.MISSING
    assert "Not in Agora" in number.last_error
    never_pushed.refresh_from_db()
    assert never_pushed.sync_state == PhoneNumber.SyncState.PENDING


def test_reconcile_lists_differences_in_words(agora, simulator):
    number = pushed(inbound_pipeline_id="pipe-a")
    simulator.delete_number("+14155550123")
    sim_import(simulator, "+14155550123", label="Sales line", inbound=False,
               inbound_config={"allowed_addresses": ["10.0.0.0/8"], "pipeline_id": "pipe-z"},
               outbound_config={"address": "sip.other.example", "transport": "udp"})  # fmt: skip

    result = phone_numbers_reconcile()

    number.refresh_from_db()
    assert result["different"] == 1
    assert number.differences == [
        "label: here 'Sales', in Agora 'Sales line'",
        "inbound calls: here yes, in Agora no",
        "inbound pipeline id: here 'pipe-a', in Agora 'pipe-z'",
        "inbound allowed addresses: here 54.172.60.0/30, in Agora 10.0.0.0/8",
        "outbound SIP address: here 'sip.carrier.example', in Agora 'sip.other.example'",
        "outbound transport: here 'tls', in Agora 'udp'",
    ]
    assert number.sync_state == PhoneNumber.SyncState.SYNCED  # left as it was
    assert number.remote_snapshot["label"] == "Sales line"


def test_reconcile_marks_a_number_synced_again_once_agora_matches(agora, simulator):
    number = pushed()
    simulator.delete_number("+14155550123")
    phone_numbers_reconcile()
    sim_import(simulator, "+14155550123")

    result = phone_numbers_reconcile()

    number.refresh_from_db()
    assert result["in_sync"] == 1
    assert number.sync_state == PhoneNumber.SyncState.SYNCED
    assert number.last_error == ""


def test_reconcile_leaves_numbers_being_deleted_alone(agora, simulator):
    number = pushed()
    phone_number_delete(number=number)
    simulator.delete_number("+14155550123")

    phone_numbers_reconcile()

    number.refresh_from_db()
    assert number.sync_state == PhoneNumber.SyncState.DELETING


# -- the tasks --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["telephony.push_phone_number", "telephony.sync_phone_numbers"])
def test_the_tasks_exist_with_limits_and_late_acks(name):
    from contactcenter.celery import app

    task = app.tasks[name]

    assert task.acks_late and task.reject_on_worker_lost
    assert task.soft_time_limit < task.time_limit


def test_push_task_retries_retryable_errors_with_backoff(agora, simulator, monkeypatch):
    from telephony.tasks import push_phone_number

    number = create()
    simulator.inject_fault("error", status=503, operation="import_phone_number")
    retried = []

    class Retried(Exception):
        pass

    def fake_retry(*, countdown):
        retried.append(countdown)
        return Retried()

    monkeypatch.setattr(push_phone_number, "retry", fake_retry)
    with pytest.raises(Retried):
        push_phone_number(number.pk)

    assert retried and retried[0] > 0
    assert push_phone_number(number.pk) == "imported"


def test_push_task_records_non_retryable_errors_without_retrying(agora, simulator, monkeypatch):
    from telephony.tasks import push_phone_number

    number = create()
    simulator.inject_fault("error", status=422, operation="import_phone_number")
    monkeypatch.setattr(push_phone_number, "retry", lambda **_: pytest.fail("retried"))

    assert push_phone_number(number.pk) == "error"


def test_sync_task_runs_the_reconcile(agora, simulator):
    from telephony.tasks import sync_phone_numbers

    sim_import(simulator, "+12025550199")

    assert sync_phone_numbers()["created"] == 1


@pytest.mark.parametrize(
    "address",
    ["sip.carrier.example", "sip.carrier.example:5061", "acme.pstn.twilio.com", "10.0.0.1",
     "10.0.0.1:5060", "[2001:db8::1]:5060"],
)  # fmt: skip
def test_sip_addresses_that_are_a_host_or_an_ip_with_a_port_are_accepted(address):
    assert sip_address_problem(address) is None


@pytest.mark.parametrize(
    ("address", "said"),
    [("sip carrier.example", "no spaces"), ("999.1.1.1", "not a possible IPv4 address"),
     ("10.0.0.1:99999", "not a port"), ("-bad-.example", "not a valid host name"),
     ("a..b", "not a valid host name"), ("2001:db8::1", "in brackets"),
     ("[nonsense]:5060", "not an IPv6 address")],
)  # fmt: skip
def test_impossible_sip_addresses_are_refused_naming_the_problem(address, said):
    assert said in sip_address_problem(address)
    number = PhoneNumber(e164="+14155550123", label="Sales", outbound_address=address)
    with pytest.raises(ValidationError) as refused:
        phone_number_check(number)
    assert said in " ".join(refused.value.message_dict["outbound_address"])


def test_a_new_number_is_outbound_only_by_default():
    number = PhoneNumber(e164="+14155550123", label="Sales")
    assert (number.outbound, number.inbound) == (True, False)
