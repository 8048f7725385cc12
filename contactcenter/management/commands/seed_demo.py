from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns.models import Campaign, Contact, ContactList
from telephony.models import AgentProfile, PhoneNumber
from telephony.services.numbers import phone_number_create

DEMO_NUMBER = "+14155550100"
DEMO_AGENT = "Demo receptionist"
DEMO_PROPERTIES = {
    # Stand-ins: the simulator needs a complete agent configuration, not working keys.
    "llm": {
        "url": "https://llm.example.invalid/v1/chat/completions",
        "params": {"model": "demo-model"},
        "max_history": 32,
    },
    "tts": {"vendor": "microsoft", "params": {"voice_name": "en-US-AndrewMultilingualNeural"}},
    "asr": {"language": "en-US"},
}


# The simulator decides outcomes by the callee's last digit (see README): these show each one.
DEMO_CONTACTS = [
    ("+12125550150", "Ada", "Lovelace"),  # answers, talks 15 s
    ("+13125550201", "Alan", "Turing"),  # never answers
    ("+14155550302", "Grace", "Hopper"),  # busy
    ("+16175550403", "Edsger", "Dijkstra"),  # the call fails
    ("+17025550250", "Barbara", "Liskov"),  # answers, talks 25 s
    ("+12065550100", "Donald", "Knuth"),  # answers, talks the default 20 s
]


def run_env() -> str:
    """What `make run` sets for its processes, for a command pasted into another terminal:
    without it, that command would read other settings (no simulator, production mode)."""
    parts = ["AGORA_SIMULATOR=true"]
    if settings.DEBUG:
        parts.insert(0, "DEBUG=true")
    if settings.WEB_PORT != 8000:
        parts.append(f"WEB_PORT={settings.WEB_PORT}")
    return " ".join(parts) + " "


class Command(BaseCommand):
    help = (
        "With the built-in Agora simulator, create a demo phone number and agent profile "
        "to start from (does nothing when they exist or when real Agora is configured)."
    )

    def handle(self, *args, **options):
        if not settings.AGORA_SIMULATOR:
            self.stdout.write("Real Agora credentials are configured: no demo data created.")
            return
        with transaction.atomic():
            if not PhoneNumber.objects.filter(e164=DEMO_NUMBER).exists():
                phone_number_create(
                    e164=DEMO_NUMBER,
                    label="Demo line (simulator)",
                    outbound_address="sip.demo.example.invalid",
                )
            AgentProfile.objects.get_or_create(
                name=DEMO_AGENT,
                defaults={
                    "description": "A full agent configuration for trying calls on the simulator.",
                    "properties": DEMO_PROPERTIES,
                    "greeting_template": "Hello {{first_name}}, this is the Acme demo calling.",
                    "system_prompt_template": (
                        "You are a friendly receptionist for Acme. The caller's name is "
                        "{{first_name}}. Confirm their appointment and keep it short."
                    ),
                },
            )
        self._demo_campaign()
        self.stdout.write(
            "Demo data ready. Start the draft campaign 'Demo reminders' in the admin (Campaigns) "
            "once the demo number shows as synced; calls are made only between 08:00 and 21:00 "
            "in each contact's local time.\n"
            "Or place a single call on the simulator with:\n"
            f"  {run_env()}.venv/bin/python manage.py place_call --to +14155550150 "
            f"--from {DEMO_NUMBER} "
            f'--agent "{DEMO_AGENT}" --var first_name=Ada\n'
            "(numbers ending 1 ring out, 2 are busy, 3 fail, 4 never hang up; see README). "
            "Single calls keep the same hours: outside 08:00-21:00 in San Francisco, add "
            "--timezone with a zone where it is daytime, e.g. --timezone Asia/Tokyo."
        )

    def _demo_campaign(self) -> None:
        if Campaign.objects.filter(name="Demo reminders").exists():
            return
        contact_list, _ = ContactList.objects.get_or_create(
            name="Demo contacts", defaults={"description": "One contact per simulated outcome."}
        )
        for phone, first, last in DEMO_CONTACTS:
            Contact.objects.get_or_create(
                contact_list=contact_list,
                phone=phone,
                defaults={"first_name": first, "last_name": last},
            )
        campaign = Campaign.objects.create(
            name="Demo reminders",
            agent_profile=AgentProfile.objects.get(name=DEMO_AGENT),
            weekdays=list(range(7)),
            max_concurrent_calls=3,
            max_attempts=2,
            retry_delay_no_answer=60,
            retry_delay_busy=60,
            retry_delay_failed=60,
        )
        campaign.contact_lists.add(contact_list)
        campaign.caller_ids.add(PhoneNumber.objects.get(e164=DEMO_NUMBER))
