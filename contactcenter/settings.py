"""Settings, all read from the environment (and an optional `.env` file).

Every variable is documented in README.md and `.env.example`. The defaults give a zero-setup
development run: SQLite and a filesystem Celery broker under `var/`, nothing else to start.
"""

from datetime import time as _time
from datetime import timedelta as _timedelta
from ipaddress import ip_network as _ip_network
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from contactcenter.encryption import KEY_HELP, KEYS_VARIABLE, development_key, parse_keys
from contactcenter.logs import log_format_from_env, logging_config
from contactcenter.queues import Queue, task_routes

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE="" disables reading a file; values already in the environment always win.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------------

DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
# Values that people copy from examples (.env.example, Django's startproject) and forget.
SECRET_KEY_PLACEHOLDERS = ("change-me", "changeme", "django-insecure-", "your-secret", "secret-key")
SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE = 50, 5  # Django's own check --deploy rules
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)


def _secret_key_problem(key: str) -> str | None:
    """Why this key must not sign production sessions, or None. Never quotes the key."""
    if key == DEFAULT_SECRET_KEY:
        return "SECRET_KEY is not set"
    if any(marker in key.lower() for marker in SECRET_KEY_PLACEHOLDERS):
        return "SECRET_KEY is a placeholder copied from an example"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY is too short ({len(key)} characters; at least {SECRET_KEY_MIN_LENGTH})"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE:
        return f"SECRET_KEY has too few different characters (at least {SECRET_KEY_MIN_UNIQUE})"
    return None


if not DEBUG and (_problem := _secret_key_problem(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"{_problem}. With DEBUG off (production mode) it must be a long random value, e.g. from "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'; or set DEBUG=true for a "
        "development run."
    )

# --- Secrets at rest (contactcenter.encryption) ----------------------------------------------

# Fernet keys, comma-separated: the first encrypts, every one decrypts (rotation: put the new key
# first, run `manage.py reencrypt_secrets`, then drop the old ones). A development run may do
# without: its key is then derived from SECRET_KEY.
try:
    FIELD_ENCRYPTION_KEYS = parse_keys(env.str(KEYS_VARIABLE, default=""))
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            f"{KEYS_VARIABLE} is not set. With DEBUG off (production mode) SIP passwords, webhook "
            "secrets and agent API keys are encrypted with a key of your own: set "
            f"{KEYS_VARIABLE} to one (or several, comma-separated, to rotate). {KEY_HELP}"
        )
    FIELD_ENCRYPTION_KEYS = [development_key(SECRET_KEY)]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served by us (no CDN)
    "axes",  # login lockouts (below)
    "contactcenter",
    "telephony",
    "campaigns",
    "analysis",
]

MIDDLEWARE = [
    # The request's id on its log lines and in its answer (contactcenter/middleware.py).
    "contactcenter.middleware.RequestId",
    "django.middleware.security.SecurityMiddleware",
    # Agora's webhooks go straight to their view from here (contactcenter/middleware.py).
    "contactcenter.middleware.AgoraWebhookShortcut",
    # HTTP figures for /metrics (requests, latency, answers by view); webhooks, counted by the
    # product's own webhook figures, skip them (the hottest path).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The admin in the staff member's own time zone (contactcenter/staff_time.py).
    "contactcenter.staff_time.StaffTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused by the lockout into its page (429).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
WSGI_APPLICATION = "contactcenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'contactcenter.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and immediate transactions let the web server, worker and beat share one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: a username locked out from an address is refused before any password is
# checked (every login through django.contrib.auth, the admin's included).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After LOGIN_FAILURE_LIMIT failed logins for one username from one client address, that pair is
# locked out for LOGIN_LOCKOUT_MINUTES (counted again from each attempt made meanwhile); a
# successful login clears the count. Attempts and lockouts are listed in the admin (Axes).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = _timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "contactcenter.clientip.client_address"
AXES_LOCKOUT_CALLABLE = "contactcenter.views.login_locked_out"
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"LOGIN_FAILURE_LIMIT must be at least 1; got {AXES_FAILURE_LIMIT}.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis, cache and Celery ------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A file cache is shared by the web server, worker and beat processes of a local run.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a broker with no service to run, for a bare machine.
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # With acks_late a task held by a vanished worker comes back after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
    }

CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_QUEUES = Queue.kombu_queues()
# Every task is routed by name to one queue (the table is in contactcenter/queues.py).
CELERY_TASK_ROUTES = task_routes()
# Defaults for every task; a task may set tighter limits of its own.
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 300
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker keeps its database connection between tasks (CONN_MAX_AGE, checked before reuse):
# Celery's fixup would otherwise close it around every task (contactcenter/celery.py). It
# still recycles it after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

HEARTBEAT_INTERVAL = env.float("HEARTBEAT_INTERVAL", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "contactcenter.heartbeat",
        "schedule": HEARTBEAT_INTERVAL,
        "kwargs": {"source": "beat"},
        "options": {"expires": HEARTBEAT_INTERVAL},
    },
    # Live calls without news are polled (covers lost webhooks); limits are enforced.
    "poll-calls": {
        "task": "telephony.poll_calls",
        "schedule": env.float("CALL_POLL_INTERVAL", default=5.0),
        "options": {"expires": 5},
    },
    "dispatch-campaigns": {
        "task": "campaigns.dispatch",
        "schedule": env.float("DISPATCH_INTERVAL", default=2.0),
        "options": {"expires": 5},
    },
    "enforce-call-limits": {
        "task": "telephony.enforce_call_limits",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "review-caller-ids": {
        "task": "campaigns.review_caller_ids",
        "schedule": env.float("CALLER_ID_REVIEW_SECONDS", default=900.0),
        "options": {"expires": 300},
    },
    "place-scheduled-calls": {
        "task": "telephony.place_scheduled_calls",
        "schedule": env.float("CALL_SCHEDULED_SWEEP_SECONDS", default=5.0),
        "options": {"expires": 5},
    },
    "recover-stuck-calls": {
        "task": "telephony.recover_stuck_calls",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # CRM webhooks: long retries and lost delivery tasks.
    "retry-due-webhooks": {
        "task": "contactcenter.retry_due_webhooks",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    "sweep-webhook-events": {
        "task": "telephony.sweep_webhook_events",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    "prune-expired": {
        "task": "contactcenter.prune_expired",
        "schedule": env.float("RETENTION_INTERVAL_SECONDS", default=3600.0),
        "options": {"expires": 600},
    },
    "sync-phone-numbers": {
        "task": "telephony.sync_phone_numbers",
        "schedule": env.float("PHONE_NUMBER_SYNC_INTERVAL", default=300.0),
        "options": {"expires": 60},
    },
}

# --- Agora ------------------------------------------------------------------------------------

AGORA_AREAS = ("US", "EU", "AP", "CN")
AGORA_CUSTOMER_ID = env.str("AGORA_CUSTOMER_ID", default="")
AGORA_CUSTOMER_SECRET = env.str("AGORA_CUSTOMER_SECRET", default="")
# The built-in simulator is used only when chosen (`make run`, the test suite, the bench and
# chaos deployments choose it): its stand-in credentials and webhook secret are public.
AGORA_SIMULATOR = env.bool("AGORA_SIMULATOR", default=False)
if AGORA_SIMULATOR and (AGORA_CUSTOMER_ID or AGORA_CUSTOMER_SECRET):
    raise ImproperlyConfigured(
        "AGORA_SIMULATOR=true chooses the built-in simulator, but AGORA_CUSTOMER_ID or "
        "AGORA_CUSTOMER_SECRET is set too. To talk to Agora set AGORA_SIMULATOR=false (make run "
        "sets true unless the environment says otherwise: AGORA_SIMULATOR=false make run); to "
        "use the simulator, remove the credentials."
    )
if not AGORA_SIMULATOR and not (AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET):
    raise ImproperlyConfigured(
        "Agora credentials are missing: set AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET, or set "
        "AGORA_SIMULATOR=true to use the built-in simulator instead (make run does)."
    )
AGORA_SIMULATOR_PORT = env.int("AGORA_SIMULATOR_PORT", default=8900)
WEB_PORT = env.int("WEB_PORT", default=8000)
AGORA_SIMULATOR_WEBHOOK_URL = env.str(
    "AGORA_SIMULATOR_WEBHOOK_URL", default=f"http://127.0.0.1:{WEB_PORT}/webhooks/agora/"
)
# Stand-ins that let the app and the simulator talk to each other (never Agora's).
SIMULATOR_WEBHOOK_SECRET = "simulator-webhook-secret"  # noqa: S105
if AGORA_SIMULATOR:
    AGORA_CUSTOMER_ID = "simulator"
    AGORA_CUSTOMER_SECRET = "simulator-customer-secret"  # noqa: S105 - the local stand-in's
_simulated = AGORA_SIMULATOR
AGORA_APP_ID = env.str("AGORA_APP_ID", default="") or ("simulator-app" if _simulated else "")
AGORA_APP_CERTIFICATE = env.str("AGORA_APP_CERTIFICATE", default="") or (
    "simulator-app-certificate" if _simulated else ""
)
AGORA_AREA = env.str("AGORA_AREA", default="US").upper()
if AGORA_AREA not in AGORA_AREAS:
    raise ImproperlyConfigured(
        f"AGORA_AREA must be one of {', '.join(AGORA_AREAS)}; got {AGORA_AREA!r}."
    )
AGORA_API_BASE_URL = env.str("AGORA_API_BASE_URL", default="") or (
    f"http://127.0.0.1:{AGORA_SIMULATOR_PORT}" if AGORA_SIMULATOR else ""
)
AGORA_AUTH_MODE = env.str("AGORA_AUTH_MODE", default="basic").lower()
if AGORA_AUTH_MODE not in ("basic", "token"):
    raise ImproperlyConfigured(
        f"AGORA_AUTH_MODE must be 'basic' or 'token'; got {AGORA_AUTH_MODE!r}."
    )
_webhook_secret_given = env.str("AGORA_WEBHOOK_SECRET", default="")
AGORA_WEBHOOK_SECRET = _webhook_secret_given or (
    SIMULATOR_WEBHOOK_SECRET if AGORA_SIMULATOR else ""
)
if not DEBUG and AGORA_WEBHOOK_SECRET in ("", SIMULATOR_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "AGORA_WEBHOOK_SECRET is "
        + ("not set" if not _webhook_secret_given else "the simulator's public stand-in")
        + ". With DEBUG off (production mode) Agora's webhooks must be signed with a secret of "
        "your own: set AGORA_WEBHOOK_SECRET to the one configured for Agora's notifications "
        "(with the simulator, any long random value: it is passed to the simulator too)."
    )
try:
    AGORA_MAX_CONCURRENT_CALLS = env.int("AGORA_MAX_CONCURRENT_CALLS", default=20)
except ValueError as exc:
    raise ImproperlyConfigured("AGORA_MAX_CONCURRENT_CALLS must be a whole number.") from exc
if AGORA_MAX_CONCURRENT_CALLS < 1:
    raise ImproperlyConfigured(
        f"AGORA_MAX_CONCURRENT_CALLS must be at least 1; got {AGORA_MAX_CONCURRENT_CALLS}."
    )
# --- Calls -------------------------------------------------------------------------------------

# National numbers typed without a country code are read in this region (ISO 3166 code).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US").upper()
# A live call with no news for this long is polled (webhooks may be lost or switched off).
CALL_POLL_AFTER_SECONDS = env.int("CALL_POLL_AFTER_SECONDS", default=15)
CALL_POLL_MAX_INTERVAL_SECONDS = env.int("CALL_POLL_MAX_INTERVAL_SECONDS", default=120)
# With more calls due than this, one paged list request replaces a GET per call.
CALL_POLL_LIST_THRESHOLD = env.int("CALL_POLL_LIST_THRESHOLD", default=10)
CALL_MAX_RING_SECONDS = env.int("CALL_MAX_RING_SECONDS", default=60)
CALL_MAX_DURATION_SECONDS = env.int("CALL_MAX_DURATION_SECONDS", default=1800)
# How long one worker may hold a call it is placing before another may take it over.
CALL_PLACEMENT_LEASE_SECONDS = env.int("CALL_PLACEMENT_LEASE_SECONDS", default=60)
# A dispatcher's calls are placed this many to a task, their requests sent at once (one thread
# each): a batch's longest wait is one request's timeouts, well inside the lease above.
CALL_PLACEMENT_BATCH_SIZE = env.int("CALL_PLACEMENT_BATCH_SIZE", default=25)
CALL_TOKEN_TTL_SECONDS = env.int("CALL_TOKEN_TTL_SECONDS", default=3600)
# In-call tools (MCP). The app's public base URL: the agent's MCP requests go to
# PUBLIC_BASE_URL + "/mcp" (a proxy routes that path to `manage.py mcp_server`), or to
# MCP_PUBLIC_URL when the MCP server has an address of its own. Without either, no call gets
# tools. A call's credential stays valid this long after the call ended.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
MCP_PUBLIC_URL = env.str("MCP_PUBLIC_URL", default="") or (
    f"{PUBLIC_BASE_URL}/mcp" if PUBLIC_BASE_URL else ""
)
MCP_PORT = env.int("MCP_PORT", default=8001)
MCP_TOOL_TIMEOUT_MS = env.int("MCP_TOOL_TIMEOUT_MS", default=5000)
MCP_CREDENTIAL_GRACE_SECONDS = env.int("MCP_CREDENTIAL_GRACE_SECONDS", default=120)
# A campaign's progress (pages, the API) is counted anew at most every PROGRESS_CACHE_SECONDS
# once it holds over PROGRESS_CACHE_ABOVE contacts (counting a million takes most of a second).
PROGRESS_CACHE_ABOVE = env.int("PROGRESS_CACHE_ABOVE", default=50_000)
PROGRESS_CACHE_SECONDS = env.int("PROGRESS_CACHE_SECONDS", default=5)
# The dashboard's reports (answer rates over four weeks, dispositions over one) are computed
# at most every REPORTS_CACHE_SECONDS once the four weeks hold over REPORTS_CACHE_ABOVE calls.
REPORTS_CACHE_ABOVE = env.int("REPORTS_CACHE_ABOVE", default=50_000)
REPORTS_CACHE_SECONDS = env.int("REPORTS_CACHE_SECONDS", default=300)
# With webhooks off, an answered call's transcript is kept by snapshots, each riding on a poll:
# the next after max(MIN, the call's age) while new turns appear, a gap doubling up to MAX
# while none do, never later than half of Agora's history window at the conversation's pace,
# and one last before our own hang-up (a callee's hang-up keeps what the last snapshot saw).
CALL_SNAPSHOT_MIN_SECONDS = env.int("CALL_SNAPSHOT_MIN_SECONDS", default=60)
CALL_SNAPSHOT_MAX_SECONDS = env.int("CALL_SNAPSHOT_MAX_SECONDS", default=600)
# An ended call's turn metrics (and its history, if Agora still has it) are fetched this long
# after its end: post-call work that stays out of the way of refilling the freed place.
CALL_AGENT_DATA_DELAY_SECONDS = env.float("CALL_AGENT_DATA_DELAY_SECONDS", default=2.0)
# A call page following a live call asks Agora for its conversation at most this often.
CALL_LIVE_SNAPSHOT_SECONDS = env.int("CALL_LIVE_SNAPSHOT_SECONDS", default=3)
# Post-call analysis (analysis/): queued this long after a conversation ends, then waiting
# (looking again every 2 s) until its transcript is whole: Agora's end-of-call history has
# arrived, or with webhooks off the call's data was fetched, or at most the WAIT after its end.
CALL_ANALYSIS = env.bool("CALL_ANALYSIS", default=True)
CALL_ANALYSIS_DELAY_SECONDS = env.float("CALL_ANALYSIS_DELAY_SECONDS", default=3.0)
CALL_ANALYSIS_TRANSCRIPT_WAIT_SECONDS = env.float(
    "CALL_ANALYSIS_TRANSCRIPT_WAIT_SECONDS", default=60.0
)
# Which analyzer: "builtin" (rules, no setup) or "llm" (an OpenAI-compatible endpoint: this
# URL, model and key, else the call's agent profile's llm.url / api_key / params.model, else
# with the simulator its stand-in). At most ANALYSIS_LLM_PER_HOUR LLM analyses per campaign
# and hour; past it, or when the LLM fails, the built-in analyzer answers (and says why).
ANALYSIS_ANALYZER = env.str("ANALYSIS_ANALYZER", default="builtin")
ANALYSIS_LLM_URL = env.str("ANALYSIS_LLM_URL", default="")
ANALYSIS_LLM_MODEL = env.str("ANALYSIS_LLM_MODEL", default="")
ANALYSIS_LLM_API_KEY = env.str("ANALYSIS_LLM_API_KEY", default="")
ANALYSIS_LLM_PER_HOUR = env.int("ANALYSIS_LLM_PER_HOUR", default=600)
ANALYSIS_LLM_TIMEOUT_SECONDS = env.float("ANALYSIS_LLM_TIMEOUT_SECONDS", default=20.0)
if ANALYSIS_ANALYZER not in ("builtin", "llm"):
    raise ImproperlyConfigured("ANALYSIS_ANALYZER must be builtin or llm")
# Voicemail: our transcript detector looks at an answered call's first turns this many
# seconds after the answer (one history request each; an empty list turns it off).
VOICEMAIL_DETECTION = env.bool("VOICEMAIL_DETECTION", default=True)
VOICEMAIL_DETECTION_POLL_SECONDS = env.list(
    "VOICEMAIL_DETECTION_POLL_SECONDS", default=["3", "7", "12"]
)
# An unanswered call's hang-up reported by webhook is final after this long (late, reordered
# webhooks may still tell it rang or was busy).
CALL_END_SETTLE_SECONDS = env.float("CALL_END_SETTLE_SECONDS", default=3.0)
# JSON from outside (API bodies, webhooks, values stored in JSON fields) nested deeper than
# this is refused (400 / a form error): see contactcenter.validators.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
if JSON_MAX_DEPTH < 2:
    raise ImproperlyConfigured(f"JSON_MAX_DEPTH must be at least 2; got {JSON_MAX_DEPTH}.")
# Webhook bodies larger than this are refused unread (413).
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
# Stored webhook events not processed after this long are processed by the sweeper.
WEBHOOK_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_SWEEP_AFTER_SECONDS", default=30)
# A worker processing a webhook holds it this long; after, another may take it (a lost worker).
WEBHOOK_PROCESSING_LEASE_SECONDS = env.int("WEBHOOK_PROCESSING_LEASE_SECONDS", default=60)
PHONE_NUMBER_SYNC_INTERVAL = env.float("PHONE_NUMBER_SYNC_INTERVAL", default=300.0)

# Countries (ISO 3166 codes) calls may go to; empty: the countries of the outbound caller IDs.
# Premium-rate, shared-cost and similar number types are refused whatever this says.
CALL_ALLOWED_COUNTRIES = [code.upper() for code in env.list("CALL_ALLOWED_COUNTRIES", default=[])]
for _code in CALL_ALLOWED_COUNTRIES:
    if not (len(_code) == 2 and _code.isalpha()):
        raise ImproperlyConfigured(
            f"CALL_ALLOWED_COUNTRIES takes ISO 3166 country codes like US,CA; got {_code!r}."
        )

# --- Campaigns ---------------------------------------------------------------------------------

# No call goes out outside these hours in the callee's local time, whatever a campaign's
# window says (single calls too; staff may override one call with a dedicated permission).
CALLING_HOURS_GUARD_START = env.str("CALLING_HOURS_GUARD_START", default="08:00")
CALLING_HOURS_GUARD_END = env.str("CALLING_HOURS_GUARD_END", default="21:00")
for _name in ("CALLING_HOURS_GUARD_START", "CALLING_HOURS_GUARD_END"):
    try:
        _time.fromisoformat(globals()[_name])
    except ValueError as exc:
        raise ImproperlyConfigured(f"{_name} must be a time like 08:00.") from exc
if _time.fromisoformat(CALLING_HOURS_GUARD_START) >= _time.fromisoformat(CALLING_HOURS_GUARD_END):
    raise ImproperlyConfigured("CALLING_HOURS_GUARD_START must be before CALLING_HOURS_GUARD_END.")
# At most this many calls to one number in any 24 hours / any 7 days, counting every campaign and
# single call (a campaign may narrow them). 3 a day is Florida's rule; no weekly limit by default
# (0: none). Campaign contacts held back wait until the limit allows.
NUMBER_CALLS_PER_24H = env.int("NUMBER_CALLS_PER_24H", default=3)
NUMBER_CALLS_PER_7D = env.int("NUMBER_CALLS_PER_7D", default=0)
for _name in ("NUMBER_CALLS_PER_24H", "NUMBER_CALLS_PER_7D"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (no limit) or more.")
# No calls on the callee's public holidays (its country's and state's or province's, from the
# `holidays` package) unless a campaign allows them; false: holidays are ordinary days.
SKIP_PUBLIC_HOLIDAYS = env.bool("SKIP_PUBLIC_HOLIDAYS", default=True)
# Largest contact CSV accepted (a million rows is about 100 MB).
CONTACT_IMPORT_MAX_BYTES = env.int("CONTACT_IMPORT_MAX_BYTES", default=500 * 1024 * 1024)
# Largest do-not-call CSV accepted (a million numbers with short reasons is about 40 MB).
DNC_IMPORT_MAX_BYTES = env.int("DNC_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
# How often beat runs the dispatcher, and how often it polls live calls (seconds).
DISPATCH_INTERVAL = env.float("DISPATCH_INTERVAL", default=2.0)
CALL_POLL_INTERVAL = env.float("CALL_POLL_INTERVAL", default=5.0)

AGORA_CONNECT_TIMEOUT = env.float("AGORA_CONNECT_TIMEOUT", default=5.0)
AGORA_READ_TIMEOUT = env.float("AGORA_READ_TIMEOUT", default=15.0)
AGORA_MAX_RETRIES = env.int("AGORA_MAX_RETRIES", default=3)

# --- REST API ---------------------------------------------------------------------------------

API_RATE_PER_KEY = env.str("API_RATE_PER_KEY", default="600/minute")
# Failed API-key authentications per client address: past the limit within the window, every
# request from that address that carries a key is answered 429 until the window ends.
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=300)
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "contactcenter.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "contactcenter.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Scopes for API keys, model permissions for staff: every view declares its `access`.
    "DEFAULT_PERMISSION_CLASSES": ["contactcenter.api.auth.ApiAccessPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["contactcenter.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": API_RATE_PER_KEY},
    "DEFAULT_PAGINATION_CLASS": "contactcenter.api.pagination.NewestFirstCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "contactcenter.api.schema.AccessAutoSchema",
    "EXCEPTION_HANDLER": "contactcenter.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contact center API",
    "DESCRIPTION": "Phone numbers, agents, calls, contacts, do-not-call and campaigns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["contactcenter.api.auth.ApiAccessPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SECURITY": [{"ApiKey": []}],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several resources have a "status": the call's gets its own name.
    "ENUM_NAME_OVERRIDES": {"CallStatusEnum": "telephony.states.CallStatus"},
}
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

# Error reporting to Sentry or a compatible service (contactcenter.errors): only with a DSN.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="")
if SENTRY_DSN:
    from contactcenter.errors import init_error_reporting
    from telephony.agora.redaction import register_secret

    register_secret(SENTRY_DSN)  # its key never in a log line
    init_error_reporting(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)

# Prometheus's scrape at /metrics (contactcenter.metrics): served only with this bearer token.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Retention (contactcenter/retention.py): days each kind of row is kept; 0 keeps it forever.
RETAIN_WEBHOOK_EVENTS_DAYS = env.int("RETAIN_WEBHOOK_EVENTS_DAYS", default=30)
RETAIN_CALL_EVENTS_DAYS = env.int("RETAIN_CALL_EVENTS_DAYS", default=365)
RETAIN_CRM_DELIVERIES_DAYS = env.int("RETAIN_CRM_DELIVERIES_DAYS", default=30)
RETAIN_IMPORT_FILES_DAYS = env.int("RETAIN_IMPORT_FILES_DAYS", default=7)
RETAIN_REFUSED_CALLS_DAYS = env.int("RETAIN_REFUSED_CALLS_DAYS", default=365)
for _name in ("RETAIN_WEBHOOK_EVENTS_DAYS", "RETAIN_CALL_EVENTS_DAYS",
              "RETAIN_CRM_DELIVERIES_DAYS", "RETAIN_IMPORT_FILES_DAYS",
              "RETAIN_REFUSED_CALLS_DAYS"):  # fmt: skip
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (keep forever) or a number of days.")
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=2000)
RETENTION_RUN_SECONDS = env.float("RETENTION_RUN_SECONDS", default=120.0)
RETENTION_BATCH_PAUSE_SECONDS = env.float("RETENTION_BATCH_PAUSE_SECONDS", default=0.1)

# CRM webhooks (contactcenter.crm_webhooks.targets): where subscriptions may send events.
# Ports a webhook URL may use; plain http (default: only in a development run); networks
# (CIDRs) opened for receivers inside the network, e.g. an on-premises CRM (default: none).
try:
    OUTBOUND_WEBHOOK_ALLOWED_PORTS = env.list(
        "OUTBOUND_WEBHOOK_ALLOWED_PORTS", cast=int, default=[80, 443]
    )
except ValueError as exc:
    raise ImproperlyConfigured(
        "OUTBOUND_WEBHOOK_ALLOWED_PORTS must be comma-separated port numbers, e.g. 80,443."
    ) from exc
OUTBOUND_WEBHOOK_ALLOW_HTTP = env.bool("OUTBOUND_WEBHOOK_ALLOW_HTTP", default=DEBUG)
OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = env.list("OUTBOUND_WEBHOOK_ALLOWED_NETWORKS", default=[])
if not OUTBOUND_WEBHOOK_ALLOWED_PORTS or not all(
    0 < port < 65536 for port in OUTBOUND_WEBHOOK_ALLOWED_PORTS
):
    raise ImproperlyConfigured("OUTBOUND_WEBHOOK_ALLOWED_PORTS must list ports from 1 to 65535.")
for _network in OUTBOUND_WEBHOOK_ALLOWED_NETWORKS:
    try:
        _ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"OUTBOUND_WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network such as "
            "10.20.0.0/16 or 2001:db8::/48."
        ) from exc

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# text (the default) or json: one JSON object per line, in every process (contactcenter.logs).
try:
    LOG_FORMAT = log_format_from_env()
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
LOGGING_CONFIG = "contactcenter.logs.configure"

# --- Production hardening ---------------------------------------------------------------------

# Behind a proxy that terminates TLS (nginx, a load balancer, ...) and sets X-Forwarded-Proto
# and X-Forwarded-For. Client addresses (login lockouts, API-key failures) are then read from
# X-Forwarded-For: the entry TRUSTED_PROXY_COUNT places from the right, the one our own nearest
# proxies appended; entries further left are whatever the client sent and are never trusted.
# Without it, the address is the connection's own (REMOTE_ADDR). See contactcenter.clientip.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXY_COUNT must be at least 1; got {TRUSTED_PROXY_COUNT}."
    )
if BEHIND_TLS_PROXY and env.bool("TRUST_X_FORWARDED_PROTO", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Served over HTTPS (BEHIND_TLS_PROXY): HTTPS only, said to browsers for a year (HSTS), and
    # cookies that never travel over plain HTTP. Each can be switched off on its own.
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=BEHIND_TLS_PROXY)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
    # Load balancers and orchestrators probe these over plain HTTP, from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^livez/$"]
    SECURE_HSTS_SECONDS = env.int(
        "SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if BEHIND_TLS_PROXY else 0
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading puts the domain in browsers' built-in lists, a commitment beyond this app:
    # off unless asked for, and check --deploy is told that this is a choice.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = []
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS.append("security.W021")
    if not SECURE_HSTS_INCLUDE_SUBDOMAINS:
        SILENCED_SYSTEM_CHECKS.append("security.W005")
