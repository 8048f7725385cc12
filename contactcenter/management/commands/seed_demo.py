from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

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
        self.stdout.write(
            "Demo data ready. Place a call on the simulator with:\n"
            f"  .venv/bin/python manage.py place_call --to +14155550150 --from {DEMO_NUMBER} "
            f'--agent "{DEMO_AGENT}" --var first_name=Ada\n'
            "(numbers ending 1 ring out, 2 are busy, 3 fail, 4 never hang up; see README)"
        )
