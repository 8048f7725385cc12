"""`manage.py agora_simulator` as `make run` starts it (from the app's settings)."""

import subprocess
import sys
import time

import pytest

from telephony.agora import AgoraClient, AgoraConfig, Unauthorized
from tests.support.processes import BASE_DIR, ManagedProcess, free_port, options, process_env

pytestmark = [pytest.mark.services, pytest.mark.real_clock]


def test_from_settings_serves_the_apps_stand_in_credentials(tmp_path):
    port = free_port()
    env = process_env(
        DEBUG="true", AGORA_SIMULATOR_PORT=str(port), AGORA_CUSTOMER_ID="", AGORA_CUSTOMER_SECRET=""
    )
    # Its own state file: a local `make run` keeps imported numbers in var/.
    args = [sys.executable, "manage.py", "agora_simulator", "--from-settings",
            "--state-file", str(tmp_path / "simulator-state.json")]  # fmt: skip
    server = ManagedProcess("sim", args, env=env, log_path=tmp_path / "sim.log")
    try:
        server.wait_for_log("Agora simulator listening")
        base_url = f"http://127.0.0.1:{port}"
        config = {"app_id": "simulator-app", "base_url": base_url, "customer_id": "simulator"}
        with AgoraClient(
            AgoraConfig(customer_secret="simulator-customer-secret", **config)
        ) as client:
            assert client.list_phone_numbers() == []
        wrong = AgoraConfig(customer_secret="wrong-secret", **config)
        with AgoraClient(wrong) as client, pytest.raises(Unauthorized):
            client.list_phone_numbers()
        assert "webhooks to http://127.0.0.1:8000/webhooks/agora/" in server.log()
    finally:
        server.stop()


def test_from_settings_idles_when_real_agora_is_configured(tmp_path):
    env = process_env(
        DEBUG="true",
        AGORA_SIMULATOR="false",
        AGORA_CUSTOMER_ID="real-customer",
        AGORA_CUSTOMER_SECRET="real-secret",
    )
    args = [sys.executable, "manage.py", "agora_simulator", "--from-settings"]
    idle = ManagedProcess("idle", args, env=env, log_path=tmp_path / "idle.log")
    try:
        idle.wait_for_log("stays idle")
        time.sleep(0.5)
        assert idle.proc.poll() is None  # still running, so honcho keeps the other processes
        assert "real-secret" not in idle.log()
    finally:
        idle.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mix", "answered=1,bogus=2"], "unknown outcome"),
        (["--fault-5xx-rate", "1.5"], "error_rate"),
        (["--customer-id", "only-id"], "go together"),
        (["--mode", "chaos"], "invalid choice"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(args, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "agora_simulator", *args],
        cwd=BASE_DIR, env=process_env(DEBUG="true"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_secrets_starting_with_a_dash_reach_the_simulator_as_given():
    """A random secret (the fleet's webhook secret) may start with "-": given as --name=value,
    it is read as the option's value, not taken for another option."""
    from telephony.management.commands.agora_simulator import Command

    parser = Command().create_parser("manage.py", "agora_simulator")
    parsed = parser.parse_args(options(webhook_secret="-x1Ab", customer_secret="--y2"))

    assert (parsed.webhook_secret, parsed.customer_secret) == ("-x1Ab", "--y2")
