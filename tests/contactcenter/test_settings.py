"""Settings are read from the environment; each case runs Django's settings in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# A key as production needs one (50+ random characters); made up for these tests only.
GOOD_KEY = "Xq7-vR2pL9_mZ4sT8wK1nB6yH3cF0jD5gA-uE7iO2rW9tY4qP1zS8xV3bN6mC0kJ"

DUMP = """
import json
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "debug": s.DEBUG,
    "allowed_hosts": s.ALLOWED_HOSTS,
    "db_engine": db["ENGINE"], "db_name": str(db["NAME"]), "db_host": db.get("HOST"),
    "db_port": db.get("PORT"), "db_user": db.get("USER"),
    "broker": s.CELERY_BROKER_URL,
    "broker_options": s.CELERY_BROKER_TRANSPORT_OPTIONS,
    "cache": s.CACHES["default"]["BACKEND"],
    "agora_area": s.AGORA_AREA, "agora_base_url": s.AGORA_API_BASE_URL,
    "agora_max_calls": s.AGORA_MAX_CONCURRENT_CALLS, "agora_app_id": s.AGORA_APP_ID,
    "agora_auth_mode": s.AGORA_AUTH_MODE, "webhook_secret_set": bool(s.AGORA_WEBHOOK_SECRET),
    "outbound_webhooks": [s.OUTBOUND_WEBHOOK_ALLOWED_PORTS, s.OUTBOUND_WEBHOOK_ALLOW_HTTP,
                          s.OUTBOUND_WEBHOOK_ALLOWED_NETWORKS],
    "simulator": s.AGORA_SIMULATOR, "customer_id": s.AGORA_CUSTOMER_ID,
    "webhook_secret_is_stand_in": s.AGORA_WEBHOOK_SECRET == "simulator-webhook-secret",
    "app_certificate_set": bool(s.AGORA_APP_CERTIFICATE),
    "encryption_keys": len(getattr(s, "FIELD_ENCRYPTION_KEYS", [])),
}))
"""
# What production needs besides SECRET_KEY (DEBUG off).
PRODUCTION = {
    "SECRET_KEY": GOOD_KEY,
    "AGORA_CUSTOMER_ID": "customer",
    "AGORA_CUSTOMER_SECRET": "customer-secret",
    "AGORA_WEBHOOK_SECRET": "a-webhook-secret-of-our-own",
    "FIELD_ENCRYPTION_KEYS": "M2EIMaVnbhVswW1mV-jzzmZfv-5Za9L1W5SeT-ntXCo=",
}


def load_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "ENV_FILE": "",
        "VAR_DIR": str(tmp_path / "var"),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + DUMP],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def settings_of(tmp_path: Path, **variables: str) -> dict:
    result = load_settings(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_zero_setup_defaults_need_no_services(tmp_path):
    values = settings_of(tmp_path, DEBUG="true", AGORA_SIMULATOR="true")  # as make run sets

    assert values["db_engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "var" / "contactcenter.sqlite3")
    assert values["broker"] == "filesystem://"
    assert values["broker_options"]["data_folder_in"] == str(tmp_path / "var" / "broker" / "queue")
    assert (tmp_path / "var" / "broker" / "queue").is_dir()
    assert values["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert values["agora_area"] == "US"
    assert values["agora_max_calls"] == 20
    assert values["agora_auth_mode"] == "basic"
    assert values["allowed_hosts"] == ["127.0.0.1", "localhost", "[::1]"]
    assert values["outbound_webhooks"] == [[80, 443], True, []]  # plain http: development only
    assert values["simulator"] is True
    assert values["agora_base_url"] == "http://127.0.0.1:8900"
    assert values["webhook_secret_is_stand_in"] is True
    assert values["encryption_keys"] == 1  # derived from SECRET_KEY for development runs


def test_services_and_agora_from_environment(tmp_path):
    values = settings_of(
        tmp_path,
        **PRODUCTION,
        DATABASE_URL="postgres://cc:pw@db.internal:6543/calls",
        REDIS_URL="redis://cache.internal:6380/2",
        ALLOWED_HOSTS="cc.example.com,10.0.0.5",
        AGORA_APP_ID="app123",
        AGORA_AREA="eu",
        AGORA_API_BASE_URL="http://127.0.0.1:8900",
        AGORA_MAX_CONCURRENT_CALLS="5",
        AGORA_AUTH_MODE="token",
    )

    assert values["debug"] is False
    assert values["db_engine"] == "django.db.backends.postgresql"
    assert (values["db_host"], values["db_port"], values["db_name"], values["db_user"]) == (
        "db.internal", 6543, "calls", "cc",
    )  # fmt: skip
    assert values["broker"] == "redis://cache.internal:6380/2"
    assert values["broker_options"] == {"visibility_timeout": 900}
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["allowed_hosts"] == ["cc.example.com", "10.0.0.5"]
    assert values["agora_area"] == "EU"
    assert values["agora_base_url"] == "http://127.0.0.1:8900"
    assert values["agora_max_calls"] == 5
    assert values["agora_app_id"] == "app123"
    assert values["agora_auth_mode"] == "token"
    assert values["webhook_secret_set"] is True
    assert values["simulator"] is False
    assert values["customer_id"] == "customer"
    assert values["encryption_keys"] == 1
    assert values["outbound_webhooks"] == [[80, 443], False, []]


def test_outbound_webhook_destinations_from_environment(tmp_path):
    values = settings_of(
        tmp_path,
        **PRODUCTION,
        OUTBOUND_WEBHOOK_ALLOWED_PORTS="443,8443",
        OUTBOUND_WEBHOOK_ALLOW_HTTP="true",
        OUTBOUND_WEBHOOK_ALLOWED_NETWORKS="10.20.0.0/16,2001:db8::/48",
    )

    assert values["outbound_webhooks"] == [[443, 8443], True, ["10.20.0.0/16", "2001:db8::/48"]]


def test_celery_broker_url_overrides_redis_for_the_broker_only(tmp_path):
    values = settings_of(
        tmp_path,
        DEBUG="1",
        AGORA_SIMULATOR="true",
        REDIS_URL="redis://cache.internal:6379/0",
        CELERY_BROKER_URL="redis://broker.internal:6379/1",
    )

    assert values["broker"] == "redis://broker.internal:6379/1"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_production_mode_refuses_the_default_secret_key(tmp_path):
    result = load_settings(tmp_path, DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_defaults_to_off(tmp_path):
    result = load_settings(tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"AGORA_AREA": "MARS"}, "AGORA_AREA must be one of US, EU, AP, CN"),
        ({"AGORA_MAX_CONCURRENT_CALLS": "0"}, "AGORA_MAX_CONCURRENT_CALLS must be at least 1"),
        ({"AGORA_MAX_CONCURRENT_CALLS": "many"}, "AGORA_MAX_CONCURRENT_CALLS must be a whole"),
        ({"AGORA_AUTH_MODE": "oauth"}, "AGORA_AUTH_MODE must be 'basic' or 'token'"),
        ({"OUTBOUND_WEBHOOK_ALLOWED_PORTS": "https"}, "OUTBOUND_WEBHOOK_ALLOWED_PORTS must be"),
        ({"OUTBOUND_WEBHOOK_ALLOWED_PORTS": "443,70000"}, "ports from 1 to 65535"),
        ({"OUTBOUND_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"}, "'10.0.0.0/33' is not a network"),
    ],
)
def test_bad_values_stop_startup_naming_the_variable(tmp_path, variables, message):
    result = load_settings(tmp_path, DEBUG="true", AGORA_SIMULATOR="true", **variables)

    assert result.returncode != 0
    assert message in result.stderr


def test_env_file_is_read_but_the_environment_wins(tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text("DEBUG=true\nAGORA_SIMULATOR=true\nAGORA_APP_ID=from-file\nAGORA_AREA=AP\n")

    values = settings_of(tmp_path, ENV_FILE=str(env_file), AGORA_AREA="CN")

    assert values["debug"] is True
    assert values["agora_app_id"] == "from-file"
    assert values["agora_area"] == "CN"


# -- the simulator is chosen, never assumed -----------------------------------------------------


@pytest.mark.parametrize("debug", ["true", "false"])
def test_without_credentials_or_the_simulator_chosen_the_app_refuses_to_start(tmp_path, debug):
    variables = {key: value for key, value in PRODUCTION.items() if "CUSTOMER" not in key}

    result = load_settings(tmp_path, DEBUG=debug, **variables)

    assert result.returncode != 0
    assert "Agora credentials are missing" in result.stderr
    assert "AGORA_SIMULATOR=true" in result.stderr


def test_the_simulator_and_credentials_together_are_refused(tmp_path):
    result = load_settings(tmp_path, DEBUG="true", AGORA_SIMULATOR="true", **PRODUCTION)

    assert result.returncode != 0
    assert "AGORA_SIMULATOR=false" in result.stderr


def test_stand_in_credentials_apply_only_to_the_simulator(tmp_path):
    values = settings_of(
        tmp_path, DEBUG="true", AGORA_CUSTOMER_ID="customer", AGORA_CUSTOMER_SECRET="secret"
    )

    assert values["simulator"] is False
    assert values["customer_id"] == "customer"
    assert values["agora_base_url"] == ""
    assert values["app_certificate_set"] is False
    assert values["webhook_secret_set"] is False


@pytest.mark.parametrize(
    ("webhook_secret", "message"),
    [("", "AGORA_WEBHOOK_SECRET is not set"), ("simulator-webhook-secret", "public stand-in")],
)
@pytest.mark.parametrize("simulator", [True, False])
def test_production_mode_refuses_an_empty_or_stand_in_webhook_secret(
    tmp_path, webhook_secret, message, simulator
):
    variables = {**PRODUCTION, "AGORA_WEBHOOK_SECRET": webhook_secret}
    if simulator:
        del variables["AGORA_CUSTOMER_ID"], variables["AGORA_CUSTOMER_SECRET"]
        variables["AGORA_SIMULATOR"] = "true"

    result = load_settings(tmp_path, DEBUG="false", **variables)

    assert result.returncode != 0
    assert message in result.stderr


def test_production_mode_with_the_simulator_chosen_and_secrets_set_starts(tmp_path):
    variables = {key: value for key, value in PRODUCTION.items() if "CUSTOMER" not in key}

    values = settings_of(tmp_path, DEBUG="false", AGORA_SIMULATOR="true", **variables)

    assert values["simulator"] is True
    assert values["webhook_secret_is_stand_in"] is False


# -- the encryption key -------------------------------------------------------------------------


def test_production_mode_refuses_to_start_without_an_encryption_key(tmp_path):
    variables = {key: value for key, value in PRODUCTION.items() if key != "FIELD_ENCRYPTION_KEYS"}

    result = load_settings(tmp_path, DEBUG="false", **variables)

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_several_encryption_keys_are_read_for_rotation(tmp_path):
    second = "8iGf9yq6qLmdp8jx8u6Cb3Sv0nbGjYg4wYbZ3l9fG1A="
    keys = f"{PRODUCTION['FIELD_ENCRYPTION_KEYS']}, {second}"

    values = settings_of(tmp_path, DEBUG="false", **{**PRODUCTION, "FIELD_ENCRYPTION_KEYS": keys})

    assert values["encryption_keys"] == 2


def test_a_bad_encryption_key_stops_startup_naming_its_position_not_its_value(tmp_path):
    bad = "not-a-fernet-key-but-close-to-one"
    keys = f"{PRODUCTION['FIELD_ENCRYPTION_KEYS']},{bad}"

    result = load_settings(
        tmp_path, DEBUG="true", AGORA_SIMULATOR="true", FIELD_ENCRYPTION_KEYS=keys
    )

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key" in result.stderr
    assert bad not in result.stderr


# -- production mode: the secret key, HTTPS behind a TLS proxy --------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("change-me-to-a-long-random-string", "SECRET_KEY is a placeholder"),
        ("django-insecure-" + GOOD_KEY, "SECRET_KEY is a placeholder"),
        ("s3cr3t-but-short-Qw8", "SECRET_KEY is too short (20 characters; at least 50)"),
        ("abab" * 20, "SECRET_KEY has too few different characters"),
    ],
)
def test_production_mode_refuses_a_weak_secret_key_without_quoting_it(tmp_path, key, message):
    result = load_settings(tmp_path, **{**PRODUCTION, "DEBUG": "false", "SECRET_KEY": key})

    assert result.returncode != 0
    assert message in result.stderr
    assert key not in result.stderr


def test_a_development_run_takes_any_secret_key(tmp_path):
    values = settings_of(tmp_path, DEBUG="true", AGORA_SIMULATOR="true", SECRET_KEY="short")
    assert values["debug"] is True


SECURITY = """
import json
from django.conf import settings as s
from django.test import Client
client = Client()
plain = client.get("/admin/login/")
health = client.get("/livez/")
secure = client.get("/livez/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "hsts": s.SECURE_HSTS_SECONDS, "subdomains": s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "preload": s.SECURE_HSTS_PRELOAD, "redirect": s.SECURE_SSL_REDIRECT,
    "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "proxy_header": s.SECURE_PROXY_SSL_HEADER,
    "plain_status": plain.status_code, "plain_location": plain.get("Location"),
    "health_status": health.status_code,
    "secure_hsts_header": secure.get("Strict-Transport-Security"),
}))
"""


def security_of(tmp_path: Path, **variables: str) -> dict:
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings", "ENV_FILE": "",
        "VAR_DIR": str(tmp_path / "var"), **PRODUCTION, "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,cc.example.com", **variables,
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + SECURITY],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_https_is_the_default(tmp_path):
    values = security_of(tmp_path, BEHIND_TLS_PROXY="true")

    assert values["hsts"] == 365 * 24 * 3600
    assert (values["subdomains"], values["preload"]) == (True, False)
    assert values["redirect"] is True
    assert (values["session_secure"], values["csrf_secure"]) == (True, True)
    assert values["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    # what a client sees: plain HTTP is sent to HTTPS, HTTPS carries HSTS
    assert values["plain_status"] == 301
    assert values["plain_location"] == "https://testserver/admin/login/"
    assert values["secure_hsts_header"] == "max-age=31536000; includeSubDomains"
    # the load balancer's health probes over plain HTTP are answered, not redirected
    assert values["health_status"] == 200


def test_behind_a_tls_proxy_each_default_can_be_changed(tmp_path):
    values = security_of(
        tmp_path,
        BEHIND_TLS_PROXY="true",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        SECURE_HSTS_PRELOAD="true",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        TRUST_X_FORWARDED_PROTO="false",
    )

    assert (values["hsts"], values["subdomains"], values["preload"]) == (3600, False, True)
    assert (values["redirect"], values["session_secure"], values["csrf_secure"]) == (
        False, False, False,
    )  # fmt: skip
    assert values["proxy_header"] is None
    assert values["plain_status"] == 200


def test_without_a_tls_proxy_plain_http_keeps_working(tmp_path):
    values = security_of(tmp_path)

    assert (values["hsts"], values["redirect"], values["session_secure"]) == (0, False, False)
    assert values["proxy_header"] is None
    assert values["plain_status"] == 200


def test_check_deploy_is_clean_behind_a_tls_proxy(tmp_path):
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
        "ENV_FILE": "", "VAR_DIR": str(tmp_path / "var"), **PRODUCTION, "DEBUG": "false",
        "BEHIND_TLS_PROXY": "true", "ALLOWED_HOSTS": "cc.example.com",
        "CALL_ALLOWED_COUNTRIES": "US,CA",
    }  # fmt: skip

    def check_deploy(**changes) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=BASE_DIR, env={**env, **changes}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    # Without an explicit destination list, adding an outbound number widens it: said so.
    unset = check_deploy(CALL_ALLOWED_COUNTRIES="")
    assert unset.returncode == 1
    assert "contactcenter.W001" in unset.stderr + unset.stdout
