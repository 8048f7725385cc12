import signal
import time

from django.core.management.base import BaseCommand

from campaigns.services.dispatch import dispatch


class Command(BaseCommand):
    help = (
        "Run the campaign dispatcher in a loop (beat runs it every DISPATCH_INTERVAL seconds; "
        "this runs extra dispatchers, e.g. to prove several at once stay under the cap)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
        parser.add_argument(
            "--duration", type=float, default=0.0, help="stop after this many seconds (0: never)"
        )

    def handle(self, *args, interval: float, duration: float, **options):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        deadline = time.monotonic() + duration if duration else None
        self.stdout.write(f"dispatcher running every {interval}s")
        self.stdout.flush()
        while not stopping and (deadline is None or time.monotonic() < deadline):
            created = dispatch()
            if any(created.values()):
                self.stdout.write(f"dispatched {sum(created.values())} call(s)")
                self.stdout.flush()
            time.sleep(interval)
