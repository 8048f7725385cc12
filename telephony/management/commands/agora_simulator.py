import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contactcenter.logs import gunicorn_logconfig
from telephony.simulator import (
    HttpFaults,
    Simulator,
    SimulatorConfig,
    Timings,
    WebhookFaults,
    parse_mix,
)
from telephony.simulator.server import SimulatorServer, http_sender

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the Agora simulator: Agora's telephony, phone-number and agent REST API on a local "
        "port, with signed webhooks and fault injection. See README, 'The Agora simulator'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="default 8900")
        parser.add_argument(
            "--from-settings",
            action="store_true",
            help="take credentials, port and webhook URL from the app's settings, and idle "
            "instead of serving when the app is configured for the real Agora (make run)",
        )
        parser.add_argument("--app-id", help="the only app id accepted (default: any)")
        parser.add_argument("--customer-id", help="the only customer id accepted (default: any)")
        parser.add_argument("--customer-secret")
        parser.add_argument(
            "--app-certificate", help="verify the RTC tokens in place-call bodies with it"
        )
        parser.add_argument("--max-concurrent-calls", type=int, default=20)
        parser.add_argument("--mode", choices=("rules", "random"), default="rules")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--mix",
            default="answered=0.6,no_answer=0.2,busy=0.1,failed=0.1",
            help="outcome weights in random mode",
        )
        parser.add_argument(
            "--ring-timeout",
            type=float,
            default=20.0,
            help="seconds an unanswered call rings before it ends",
        )
        parser.add_argument(
            "--callback-when",
            default="tomorrow at 3 pm",
            help="when the scripted callee who asks for a callback wants it (README, "
            "'Scripted callees')",
        )
        parser.add_argument("--webhook-url", help="where to POST notifications (default: none)")
        parser.add_argument("--webhook-secret", default="")
        parser.add_argument("--fault-5xx-rate", type=float, default=0.0)
        parser.add_argument("--fault-5xx-status", type=int, default=503)
        parser.add_argument("--fault-429-rate", type=float, default=0.0)
        parser.add_argument("--retry-after", type=float, default=1.0)
        parser.add_argument("--latency", type=float, default=0.0, help="seconds added")
        parser.add_argument("--lost-response-rate", type=float, default=0.0)
        parser.add_argument(
            "--fault-operations", default="", help="comma-separated operations (default: all)"
        )
        parser.add_argument("--webhook-duplicate-rate", type=float, default=0.0)
        parser.add_argument("--webhook-reorder-rate", type=float, default=0.0)
        parser.add_argument("--webhook-delay", type=float, default=0.0)
        parser.add_argument("--webhook-drop-rate", type=float, default=0.0)
        parser.add_argument(
            "--state-file", help="keep imported phone numbers in this JSON file across restarts"
        )
        parser.add_argument("--threads", type=int, default=16)
        parser.add_argument(
            "--webhook-senders", type=int, default=8,
            help="notifications sent at once (one call's always in order)",
        )  # fmt: skip

    def handle(self, *args, **options):
        if options["from_settings"]:
            if not settings.AGORA_SIMULATOR:
                logger.info(
                    "Agora credentials are configured: the app talks to Agora, so the simulator "
                    "stays idle."
                )
                signal.pause()  # stay up so `make run` keeps its other processes
                return
            options["port"] = options["port"] or settings.AGORA_SIMULATOR_PORT
            options["app_id"] = options["app_id"] or settings.AGORA_APP_ID
            options["customer_id"] = options["customer_id"] or settings.AGORA_CUSTOMER_ID
            options["customer_secret"] = (
                options["customer_secret"] or settings.AGORA_CUSTOMER_SECRET
            )
            options["app_certificate"] = (
                options["app_certificate"] or settings.AGORA_APP_CERTIFICATE
            )
            options["webhook_url"] = options["webhook_url"] or settings.AGORA_SIMULATOR_WEBHOOK_URL
            options["webhook_secret"] = options["webhook_secret"] or settings.AGORA_WEBHOOK_SECRET
            options["max_concurrent_calls"] = settings.AGORA_MAX_CONCURRENT_CALLS
            options["state_file"] = options["state_file"] or str(
                settings.VAR_DIR / "simulator-state.json"
            )
        if bool(options["customer_id"]) != bool(options["customer_secret"]):
            raise CommandError("--customer-id and --customer-secret go together")
        operations = {op.strip() for op in options["fault_operations"].split(",") if op.strip()}
        try:
            config = SimulatorConfig(
                app_id=options["app_id"] or None,
                customer_id=options["customer_id"] or None,
                customer_secret=options["customer_secret"] or None,
                app_certificate=options["app_certificate"] or None,
                max_concurrent_calls=options["max_concurrent_calls"],
                mode=options["mode"],
                seed=options["seed"],
                mix=parse_mix(options["mix"]),
                timings=Timings(no_answer_timeout=options["ring_timeout"]),
                webhook_url=options["webhook_url"] or None,
                state_file=options["state_file"] or None,
                callback_when=options["callback_when"],
                webhook_secret=options["webhook_secret"],
                http_faults=HttpFaults(
                    error_rate=options["fault_5xx_rate"],
                    error_status=options["fault_5xx_status"],
                    rate_limit_rate=options["fault_429_rate"],
                    retry_after=options["retry_after"],
                    latency_seconds=options["latency"],
                    lost_response_rate=options["lost_response_rate"],
                    operations=frozenset(operations) if operations else None,
                ),
                webhook_faults=WebhookFaults(
                    duplicate_rate=options["webhook_duplicate_rate"],
                    reorder_rate=options["webhook_reorder_rate"],
                    delay_seconds=options["webhook_delay"],
                    drop_rate=options["webhook_drop_rate"],
                ),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        simulator = Simulator(config, webhook_sender=http_sender())
        port = options["port"] or 8900
        # Logged (not printed): with LOG_FORMAT=json every line the process writes is JSON.
        logger.info(
            "Agora simulator on http://%s:%s (API under /api/conversational-ai-agent, ledger at "
            "/_simulator/ledger; mode %s, cap %s, webhooks to %s)",
            options["host"], port, config.mode, config.max_concurrent_calls,
            config.webhook_url or "nowhere",
        )  # fmt: skip
        server = SimulatorServer(
            simulator, host=options["host"], port=port, threads=options["threads"],
            senders=options["webhook_senders"], logconfig=gunicorn_logconfig(),
        )  # fmt: skip
        server.run()
