"""Real Celery worker and beat processes for integration tests."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.clock import is_pinned

BASE_DIR = Path(__file__).resolve().parents[2]


def wait_for(predicate, *, timeout: float, interval: float = 0.1, message: str):
    """Poll `predicate` until it returns something truthy; fail with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message}")


class ManagedProcess:
    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_path: Path):
        if is_pinned():
            raise RuntimeError(
                f"{name} would read the real clock while this test's clock is pinned: mark the "
                "test `real_clock` (tests/support/clock.py)"
            )
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, *, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log()}")
            return text in self.log()

        wait_for(seen, timeout=timeout, message=f"{self.name} never logged {text!r}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._log.close()


def process_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "ENV_FILE": "", "PYTHONUNBUFFERED": "1"}
    env.update(overrides)
    return env


@contextmanager
def celery_worker(
    tmp_path: Path, *, hostname: str, queues: str | None = None, concurrency: int = 1, **env: str
) -> Iterator[ManagedProcess]:
    args = [sys.executable, "-m", "celery", "-A", "contactcenter", "worker", "--loglevel", "INFO",
            "--hostname", hostname, "--concurrency", str(concurrency), "--without-mingle",
            "--without-gossip"]  # fmt: skip
    if queues:
        args += ["--queues", queues]
    worker = ManagedProcess(
        hostname, args, env=process_env(**env), log_path=tmp_path / f"{hostname}.log"
    )
    try:
        worker.wait_for_log(" ready.")
        yield worker
    finally:
        worker.stop()


@contextmanager
def celery_beat(tmp_path: Path, **env: str) -> Iterator[ManagedProcess]:
    args = [sys.executable, "-m", "celery", "-A", "contactcenter", "beat", "--loglevel", "INFO",
            "--schedule", str(tmp_path / "beat-schedule")]  # fmt: skip
    beat = ManagedProcess("beat", args, env=process_env(**env), log_path=tmp_path / "beat.log")
    try:
        beat.wait_for_log("beat: Starting")
        yield beat
    finally:
        beat.stop()


def options(**values: str) -> list[str]:
    """Command-line options as `--name=value`, so that a value starting with "-" (a random
    secret may) is read as the option's value, not taken for another option."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]


def answers(url: str) -> bool:
    """Whether a server answers `url` at all (any status)."""
    import httpx

    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def simulator_server(tmp_path: Path, *args: str, **env: str) -> Iterator[str]:
    """`manage.py agora_simulator` on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "manage.py", "agora_simulator", "--port", str(port), *args]
    server = ManagedProcess(
        "simulator",
        command,
        env=process_env(DEBUG="true", **env),
        log_path=tmp_path / f"simulator-{port}.log",
    )
    try:
        server.wait_for_log("Agora simulator listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
