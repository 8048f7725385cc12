"""`manage.py place_call`: queue one call, print its id; --now places it at the simulator."""

import uuid
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from telephony import tasks
from telephony.agora import PhoneNumberImport
from telephony.models import Call, CallEvent, PhoneNumber
from telephony.states import CallStatus

pytestmark = pytest.mark.django_db


def place_call(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("place_call", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def base_args(**overrides: str) -> list[str]:
    options = {"--to": "+14155550150", "--from": "+14155550100", "--agent": "Reminder bot"}
    options.update(overrides)
    return [part for pair in options.items() for part in pair]


def test_prints_only_the_id_of_a_queued_call(
    caller_number, agent_profile, django_capture_on_commit_callbacks
):
    with mock.patch.object(tasks.place_call, "delay") as place_delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            out, err = place_call(
                *base_args(**{"--to": "(415) 555-0150", "--from": "+1 415 555 0100"}),
                "--var", "first_name=Ada",
                "--var", "note=a=b",
                "--label", "crm_id=42",
            )  # fmt: skip
            assert place_delay.call_count == 0  # placement is left to a worker, after the commit
        for callback in callbacks:
            callback()

    call_id = uuid.UUID(out.strip())
    assert out == f"{call_id}\n"
    assert err == ""
    call = Call.objects.get(pk=call_id)
    assert call.status == CallStatus.QUEUED
    assert (call.to_number, call.from_number) == ("+14155550150", "+14155550100")
    assert call.caller_id == caller_number
    assert call.agent_profile == agent_profile
    assert call.variables == {"first_name": "Ada", "note": "a=b"}
    assert call.labels == {"crm_id": "42"}
    assert call.agent_id is None
    assert call.events.get().source == CallEvent.Source.STAFF
    place_delay.assert_called_once_with(str(call_id))


def test_now_places_the_call_at_the_simulator(agora, simulator, caller_number, agent_profile):
    agora.import_phone_number(
        PhoneNumberImport(
            provider="byo",
            phone_number=caller_number.e164,
            label="Sales",
            outbound_address="sip.carrier.example",
        )
    )

    out, err = place_call(*base_args(), "--var", "first_name=Ada", "--now")

    call = Call.objects.get(pk=out.strip())
    assert call.agent_id
    assert call.status == CallStatus.DIALING
    [placed] = simulator.ledger.calls
    assert placed.name == call.agora_name
    assert placed.agent_id == call.agent_id
    assert err.startswith("placement: placed")
    assert call.agent_id in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (base_args(**{"--from": "+14155550111"}), "--from: no imported phone number +14155550111"),
        (base_args(**{"--from": "12"}), "--from: '12'"),
        (base_args(**{"--agent": "Nobody"}), "--agent: no agent profile named 'Nobody'"),
        (base_args(**{"--to": "not a number"}), "--to: 'not a number' is not a phone number"),
        ([*base_args(), "--var", "first_name"], "--var expects key=value"),
        ([*base_args(), "--var", "=Ada"], "--var expects key=value"),
        ([*base_args(), "--label", "oops"], "--label expects key=value"),
        (base_args(), "--var: The agent's templates need variables this call does not have: "
                      "first_name"),
    ],
)  # fmt: skip
def test_errors_are_clear_and_queue_nothing(caller_number, agent_profile, args, message):
    with pytest.raises(CommandError) as raised:
        place_call(*args)

    assert message in str(raised.value)
    assert not Call.objects.exists()


def test_a_number_not_enabled_for_outbound_is_refused(caller_number, agent_profile):
    PhoneNumber.objects.filter(pk=caller_number.pk).update(outbound=False)

    with pytest.raises(CommandError, match=r"--from: \+14155550100 is not enabled for outbound"):
        place_call(*base_args(), "--var", "first_name=Ada")

    assert not Call.objects.exists()


def test_unknown_number_error_lists_the_outbound_numbers(caller_number, agent_profile):
    with pytest.raises(CommandError, match=r"Outbound numbers: \+14155550100\."):
        place_call(*base_args(**{"--from": "+14155550199"}), "--var", "first_name=Ada")
