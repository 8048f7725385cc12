"""Helpers for end-to-end tests: real workers and beat, on the test database, against a simulator
server started by tests.support.processes."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.db import connection

from telephony.agora import (
    AgoraClient,
    AgoraConfig,
    PhoneNumberImport,
)
from tests.support.processes import options


def simulator_args(*extra: str) -> tuple[str, ...]:
    return (
        *options(
            app_id=settings.AGORA_APP_ID,
            customer_id=settings.AGORA_CUSTOMER_ID,
            customer_secret=settings.AGORA_CUSTOMER_SECRET,
            app_certificate=settings.AGORA_APP_CERTIFICATE,
        ),
        *extra,
    )


def worker_env(base_url: str, **extra: str) -> dict[str, str]:
    """Workers use the test database (rows committed by this test) and the simulator."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {"DATABASE_URL": url, "AGORA_API_BASE_URL": base_url, **extra}


def import_caller(base_url: str, caller) -> None:
    config = AgoraConfig(
        app_id=settings.AGORA_APP_ID,
        customer_id=settings.AGORA_CUSTOMER_ID,
        customer_secret=settings.AGORA_CUSTOMER_SECRET,
        base_url=base_url,
    )
    with AgoraClient(config) as client:
        client.import_phone_number(
            PhoneNumberImport(
                provider="byo",
                phone_number=caller.e164,
                label="Sales",
                outbound_address="sip.carrier.example",
            )
        )


def app_env(base_url: str, cap: int) -> dict[str, str]:
    return worker_env(
        base_url,
        AGORA_MAX_CONCURRENT_CALLS=str(cap),
        CALL_POLL_AFTER_SECONDS="1",
        CALL_POLL_INTERVAL="1",
        # Calls here talk for seconds and are followed every second, transcripts too: the
        # product's polls back off and its snapshot gaps grow with a call's age, and with
        # webhooks off what is said after the last look before the callee hangs up is lost;
        # these tests read every word.
        CALL_POLL_MAX_INTERVAL_SECONDS="1",
        CALL_SNAPSHOT_MIN_SECONDS="1",
        CALL_SNAPSHOT_MAX_SECONDS="1",
        DISPATCH_INTERVAL="1",
    )


class Receiver:
    """A local HTTP endpoint that records the webhooks it is sent."""

    def __init__(self):
        self.received: list[tuple[bytes, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
