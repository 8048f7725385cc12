"""Running the simulator as a real HTTP server (gunicorn, one process so state is shared)."""

import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx
from gunicorn.app.base import BaseApplication

from telephony.simulator.core import Simulator
from telephony.simulator.http import SimulatorHTTP

logger = logging.getLogger(__name__)


def http_sender(timeout: float = 10.0):
    """A webhook sender that POSTs with httpx; Agora waits 10 s for an answer."""
    client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        return client.post(url, content=body, headers=headers).status_code

    return send


class BackgroundRunner:
    """Plays call lifecycles in real time and sends due webhooks from a small thread pool."""

    def __init__(self, simulator: Simulator, *, interval: float = 0.02, senders: int = 8):
        self.sim = simulator
        self.interval = interval
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="webhook")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send_in_order(self, batch: list) -> None:
        for pending in batch:
            self.sim.webhooks.send(pending, now=self.sim.now())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sim.run_due(deliver=False)
                # One call's notifications go out in order (reordering is a fault to switch
                # on, not an accident); different calls' are sent in parallel.
                by_call: dict[str, list] = defaultdict(list)
                for pending in self.sim.webhooks.take_due(self.sim.now()):
                    by_call[pending.notification.payload.get("agent_id", "")].append(pending)
                for batch in by_call.values():
                    self._pool.submit(self._send_in_order, batch)
            except Exception:  # the clock thread must survive anything and keep time
                logger.exception("simulator clock tick failed")
            self._stop.wait(self.interval)


class SimulatorServer(BaseApplication):
    def __init__(
        self,
        simulator: Simulator,
        *,
        host: str,
        port: int,
        threads: int = 16,
        senders: int = 8,
        logconfig: dict | None = None,
    ):
        """`logconfig`: gunicorn's `logconfig_dict` (its own lines in the caller's format)."""
        self.simulator = simulator
        self.logconfig = logconfig
        self.bind = f"{host}:{port}"
        self.threads = threads
        self.senders = senders
        self.runner: BackgroundRunner | None = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", 1)  # all state lives in one process
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.threads)
        self.cfg.set("keepalive", 30)
        self.cfg.set("timeout", 120)
        self.cfg.set("backlog", 2048)
        self.cfg.set("control_socket_disable", True)  # several simulators may run at once
        self.cfg.set("post_worker_init", self._start_runner)
        if self.logconfig:
            self.cfg.set("logconfig_dict", self.logconfig)

    def _start_runner(self, worker) -> None:
        # Threads do not survive gunicorn's fork: start the clock inside the worker.
        self.runner = BackgroundRunner(self.simulator, senders=self.senders)
        self.runner.start()
        logger.info("Agora simulator listening on http://%s", self.bind)

    def load(self):
        return SimulatorHTTP(self.simulator).wsgi_app
