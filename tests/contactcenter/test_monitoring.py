"""Celery monitoring: Flower behind basic auth, in docker-compose.yml and for a local run."""

import os
import shlex
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml

from tests.support.processes import (
    BASE_DIR,
    ManagedProcess,
    answers,
    free_port,
    process_env,
    wait_for,
)


def compose_config(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """`docker compose config` of our docker-compose.yml, beside an empty .env (the command
    the Makefile chose: Docker's plugin, else Debian's docker-compose)."""
    command = shlex.split(os.environ.get("DOCKER_COMPOSE") or _compose_command())
    if not shutil.which(command[0]):
        pytest.fail(f"{command[0]} is missing: make test installs docker-compose")
    shutil.copy(BASE_DIR / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    return subprocess.run(
        [*command, "config"], cwd=tmp_path, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _compose_command() -> str:
    """As the Makefile chooses: Docker's compose plugin when it answers, else docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False) \
        if shutil.which("docker") else None  # fmt: skip
    return "docker compose" if plugin and plugin.returncode == 0 else "docker-compose"


def test_compose_runs_flower_behind_basic_auth_from_the_environment(tmp_path):
    refused = compose_config(tmp_path)
    assert refused.returncode != 0
    assert "set FLOWER_BASIC_AUTH=user:password in .env" in refused.stdout + refused.stderr

    answer = compose_config(tmp_path, FLOWER_BASIC_AUTH="ops:long-password")

    assert answer.returncode == 0, answer.stderr
    services = yaml.safe_load(answer.stdout)["services"]
    assert {"web", "worker", "beat", "mcp", "flower", "postgres", "redis"} <= set(services)
    flower = services["flower"]
    assert flower["command"].startswith("celery -A contactcenter flower")
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "ops:long-password"
    assert flower["environment"]["REDIS_URL"] == services["worker"]["environment"]["REDIS_URL"]
    [port] = flower["ports"]
    published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
    assert published.startswith("127.0.0.1:")  # the host's loopback only


@pytest.mark.services
@pytest.mark.real_clock
def test_flower_serves_only_with_its_login(tmp_path, redis_db):
    port = free_port()
    flower = ManagedProcess(
        "flower",
        [sys.executable, "-m", "celery", "-A", "contactcenter", "flower", f"--port={port}",
         "--address=127.0.0.1"],
        env=process_env(FLOWER_BASIC_AUTH="ops:long-password"),
        log_path=tmp_path / "flower.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(url), timeout=30, message=f"flower to answer:\n{flower.log()}")
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, auth=("ops", "wrong"), timeout=5).status_code == 401
        assert httpx.get(url, auth=("ops", "long-password"), timeout=5).status_code == 200
    finally:
        flower.stop()
