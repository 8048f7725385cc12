"""Queue one outbound call from the command line and print its id (only the id, on stdout).

    python manage.py place_call --to +14155550123 --from +14155550100 --agent "Reminder bot" \
        --var first_name=Ada --label crm_id=42 [--timezone America/Los_Angeles] [--now]

The dialing rules (do-not-call, calling hours, destinations) refuse a call with exit status 1
and the reason on stderr.

A Celery worker places the call after the commit. `--now` also places it in this process right
away (to try the simulator without a worker); placing twice is safe (see services.calls).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.services.calls import PlacementDeferred, call_create, call_place
from telephony.validators import normalize_phone_number

# call_create's error keys, as the options that feed them.
OPTION_FOR_FIELD = {
    "to_number": "--to",
    "caller_id": "--from",
    "variables": "--var",
    "callee_timezone": "--timezone",
    "callee_region": "--region",
}


def parse_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(
                f"{option} expects key=value (e.g. {option} first_name=Ada), got {item!r}."
            )
        pairs[key] = value
    return pairs


def validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{OPTION_FOR_FIELD.get(field, field)}: {message}"
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return " ".join(error.messages)


class Command(BaseCommand):
    help = (
        "Queue an outbound call from an imported number with an agent profile, and print its id. "
        "A worker places it; --now also places it here at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--to", required=True, metavar="NUMBER", help="the callee, e.g. +14155550123"
        )
        parser.add_argument(
            "--from",
            dest="from_number",
            required=True,
            metavar="NUMBER",
            help="the caller ID: an imported number enabled for outbound calls",
        )
        parser.add_argument("--agent", required=True, help="the agent profile's name")
        parser.add_argument(
            "--var",
            action="append",
            metavar="KEY=VALUE",
            help="a template variable of the agent profile (repeatable)",
        )
        parser.add_argument(
            "--label",
            action="append",
            metavar="KEY=VALUE",
            help="a label kept with the call and echoed by Agora (repeatable)",
        )
        parser.add_argument(
            "--timezone",
            default="",
            metavar="ZONE",
            help="the callee's IANA time zone (default: every zone of the number must be inside "
            "the calling hours)",
        )
        parser.add_argument(
            "--region",
            default="",
            metavar="REGION",
            help="the callee's country and state or province, e.g. US-TX, for the regional "
            "calling hours and holidays (default: the number's area code's)",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="also place the call in this process right away (outcome on stderr)",
        )

    def handle(self, *args, **options):
        variables = parse_pairs(options["var"], "--var")
        labels = parse_pairs(options["label"], "--label")
        caller_id = self._caller_id(options["from_number"])
        agent_profile = self._agent_profile(options["agent"])
        try:
            call = call_create(
                to_number=options["to"],
                caller_id=caller_id,
                agent_profile=agent_profile,
                variables=variables,
                labels=labels,
                callee_timezone=options["timezone"],
                callee_region=options["region"],
                source=CallEvent.Source.STAFF,
                note="call queued by the place_call command",
                requested_by="place_call command",
            )
        except ValidationError as error:
            raise CommandError(f"The call was not queued. {validation_message(error)}") from None
        self.stdout.write(str(call.id))
        if options["now"]:
            self._place_now(call.id)

    def _caller_id(self, number: str) -> PhoneNumber:
        try:
            e164 = normalize_phone_number(number)
        except ValidationError as error:
            raise CommandError(f"--from: {' '.join(error.messages)}") from None
        caller_id = PhoneNumber.objects.filter(e164=e164).first()
        if caller_id is None:
            known = list(
                PhoneNumber.objects.filter(outbound=True).values_list("e164", flat=True)[:10]
            )
            raise CommandError(
                f"--from: no imported phone number {e164}. "
                + (f"Outbound numbers: {', '.join(known)}." if known else "Import one first.")
            )
        if not caller_id.outbound:
            raise CommandError(f"--from: {e164} is not enabled for outbound calls.")
        return caller_id

    def _agent_profile(self, name: str) -> AgentProfile:
        profile = AgentProfile.objects.filter(name=name).first()
        if profile is None:
            known = list(AgentProfile.objects.values_list("name", flat=True)[:10])
            raise CommandError(
                f"--agent: no agent profile named {name!r}. "
                + (f"Agent profiles: {', '.join(known)}." if known else "Create one first.")
            )
        return profile

    def _place_now(self, call_id) -> None:
        try:
            outcome = call_place(call_id=call_id)
        except PlacementDeferred as deferred:
            self.stderr.write(
                f"placement deferred ({deferred.reason}); a worker retries it in "
                f"{deferred.countdown:.0f}s"
            )
            return
        call = Call.objects.get(pk=call_id)
        facts = [f"status {call.status}"]
        if call.agent_id:
            facts.append(f"agent {call.agent_id}")
        if call.last_error:
            facts.append(call.last_error)
        self.stderr.write(f"placement: {outcome} ({'; '.join(facts)})")
