"""One env-driven settings module.

Every setting is read from the environment (or a `.env` file beside manage.py) with a
typed helper, so a malformed value fails at start-up instead of at first use.
`.env.example` documents each one.
"""

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"  # zero-setup state: SQLite file, cache, media (git-ignored)

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: anything but a known spelling stops start-up (django-environ would read it as False)."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    return strict_bool(name, raw)


def strict_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
# A Fernet key that is public by design: it only protects a developer's SQLite file.
DEVELOPMENT_ENCRYPTION_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtZmllbGQta2V5LTAwMDA="

# Under pytest, state that would collide with a developer's running server (file cache,
# media) goes to a temporary folder, and tasks run eagerly unless a test starts a worker.
TESTING = env_bool("TESTING", default="pytest" in sys.modules)
if TESTING:
    LOCAL_DIR = Path(tempfile.mkdtemp(prefix="wap-test-"))

# "development" (default) or "production". Production refuses insecure defaults.
PLATFORM_ENV = env.str("PLATFORM_ENV", default="development")
if PLATFORM_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"PLATFORM_ENV must be 'development' or 'production', not {PLATFORM_ENV!r}.")
IS_PRODUCTION = PLATFORM_ENV == "production"

DEBUG = env_bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    # DEBUG pages show settings, SQL and stack frames to anyone who triggers an error.
    raise ImproperlyConfigured("PLATFORM_ENV=production refuses DEBUG=true; unset DEBUG.")
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
# Keys that encrypt secrets at rest (channel tokens, LLM keys...). Newest first: the first
# encrypts, all of them decrypt, so a key is rotated by prepending a new one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

if IS_PRODUCTION:
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "PLATFORM_ENV=production needs SECRET_KEY set to a random value of at least 32 characters."
        )
    if not FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "PLATFORM_ENV=production needs FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first). "
            "Make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
if not FIELD_ENCRYPTION_KEYS:
    FIELD_ENCRYPTION_KEYS = [DEVELOPMENT_ENCRYPTION_KEY]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The audit log's "from where": off, the client is REMOTE_ADDR; on, the first X-Forwarded-For hop. Turn it on
# only behind a proxy that sets X-Forwarded-For itself, or a client could claim any address.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", default=False)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "workspaces_app",
    "channels_app",
    "agents_app",
    "messaging_app",
    "outreach_app",
    "analytics_app",
    "events_app",
    "audit_app",
    "whatsapp_platform",  # for its management commands (run_scheduler)
]

# The local Cloud API emulator (a fake Meta for the sandbox, tests and benchmarks). Never on
# in production: its app is not even installed then.
WHATSAPP_EMULATOR_ENABLED = env_bool("WHATSAPP_EMULATOR_ENABLED", default=not IS_PRODUCTION)
if WHATSAPP_EMULATOR_ENABLED:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("WHATSAPP_EMULATOR_ENABLED cannot be on with PLATFORM_ENV=production.")
    INSTALLED_APPS.append("cloudapi_emulator")
    # Optional emulator knobs; unset ones take cloudapi_emulator/conf.py's defaults.
    for _name, _reader in {
        "STATUS_DELAYS": env.json,
        "TEMPLATE_REVIEW_SECONDS": env.float,
        "MEDIA_URL_TTL_SECONDS": env.float,
        "WEBHOOK_MAX_ATTEMPTS": env.int,
        "WEBHOOK_RETRY_BASE_SECONDS": env.float,
        "WEBHOOK_RETRY_MAX_SECONDS": env.float,
        "WEBHOOK_TIMEOUT_SECONDS": env.float,
        "WEBHOOK_CLAIM_SECONDS": env.float,
        "SERVICE_WINDOW_SECONDS": env.int,
        "CONTROL_TOKEN": env.str,
    }.items():
        if f"WHATSAPP_EMULATOR_{_name}" in env.ENVIRON:
            globals()[f"WHATSAPP_EMULATOR_{_name}"] = _reader(f"WHATSAPP_EMULATOR_{_name}")

MIDDLEWARE = [
    "whatsapp_platform.observability.RequestIdMiddleware",
    # Probes and scrapes by IP address: before anything checks the Host header against ALLOWED_HOSTS.
    "whatsapp_platform.health.ProbeMiddleware",
    "whatsapp_platform.api.NulByteGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit_app.middleware.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "workspaces_app.middleware.WorkspaceMfaRequiredMiddleware",
    "whatsapp_platform.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "whatsapp_platform.urls"
WSGI_APPLICATION = "whatsapp_platform.wsgi.application"
ASGI_APPLICATION = "whatsapp_platform.asgi.application"

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
                "workspaces_app.context_processors.console",
            ],
        },
    },
]

# --- Data stores -----------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{LOCAL_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the zero-setup default only; WAL and a busy timeout let the web process
    # and the scheduler share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not shared-cache memory: concurrency tests need SQLite's busy timeout.
    DATABASES["default"]["TEST"] = {"NAME": str(LOCAL_DIR / "test.sqlite3")}
# PostgreSQL connection pooling (Django's psycopg pool, one pool per process), README "Deployment".
# On with DATABASE_POOL=true, `?pool=true` in DATABASE_URL, or DATABASE_POOL_MAX_SIZE alone (the `turns`
# worker of the Procfile: dozens of agent turns waiting on models share a few connections, a thread handing
# its connection back while it waits, whatsapp_platform/db.py). Off, each thread holds its own connection.
# A process opens at most DATABASE_POOL_MAX_SIZE connections: size PostgreSQL's max_connections for the sum.
_url_pool = DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # django-environ leaves it a string
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=0)
DATABASE_POOL = (
    env_bool("DATABASE_POOL", default=False)
    or (_url_pool is not None and strict_bool("DATABASE_URL's pool", str(_url_pool)))
    or DATABASE_POOL_MAX_SIZE > 0
)
if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        # Enough for every thread of a gunicorn gthread worker (4) or a Celery worker (8) to hold one at once.
        "max_size": DATABASE_POOL_MAX_SIZE or 10,
        # A thread that finds every connection busy waits this long, then its request or task fails (a task
        # is retried).
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=20.0),
        "max_idle": 300,
    }
    # Django refuses a pool with persistent connections: a pooled connection goes back to the pool when
    # Django closes it (end of each request; end of each task, whatsapp_platform/celery.py).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # the pool checks a connection before handing it out
elif DATABASE_POOL and env_bool("DATABASE_POOL", default=False):
    raise ImproperlyConfigured("DATABASE_POOL=true needs PostgreSQL (DATABASE_URL=postgres://...).")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="wap-test" if TESTING else "wap")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # A file cache is shared by every process on the machine, so login rate limits hold
    # across the web and scheduler processes even without Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(LOCAL_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# --- Celery ----------------------------------------------------------------------------
# With Redis the production topology runs (broker + worker + beat); without it tasks run
# in-process and `manage.py run_scheduler` plays beat's part.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING or not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 3, "socket_timeout": 5}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Work is split by how it behaves, so one kind never waits behind another (README "Worker roles"):
# - intake: webhook drains (short, CPU-bound; several may run at once, each claiming its own batch);
# - turns: agents' turns, which mostly wait on a model: a worker with many threads and a connection pool;
# - outbox: sends to Graph; campaigns: campaign dispatchers (each paces its own sends);
# - default: periodic sweepers and maintenance.
# A worker started without -Q consumes every one of them (development, tests); the Procfile gives each role its own.
CELERY_TASK_QUEUES = [Queue(name) for name in ("intake", "turns", "outbox", "campaigns", "default")]
CELERY_TASK_ROUTES = {
    "messaging.webhook_events_drain": {"queue": "intake"},
    "messaging.webhook_events_sweep": {"queue": "intake"},
    "messaging.conversation_inbound_handle": {"queue": "turns"},
    "messaging.message_deliver": {"queue": "outbox"},
    "outreach.campaign_dispatch": {"queue": "campaigns"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes the database connection before and after every task unless told to reuse it: a new
# PostgreSQL backend per task (~15 % of a core at 150 tasks/s). Reused, it is still closed every
# 2 x this many tasks; a broken or expired one is closed before the next task (whatsapp_platform/celery.py).
CELERY_DB_REUSE_MAX = 500
# Every periodic job, in seconds. Celery beat reads it with Redis; run_scheduler without.
PERIODIC_JOBS = {
    "workspaces.invitations_expire": {"task": "workspaces.invitations_expire", "every": 3600},
    "messaging.outbox_sweep": {"task": "messaging.outbox_sweep", "every": 15},
    "messaging.webhook_events_sweep": {"task": "messaging.webhook_events_sweep", "every": 60},
    # Customer messages whose handling task was lost, or whose agent turn lost its worker.
    "messaging.inbound_sweep": {"task": "messaging.inbound_sweep", "every": 30},
    "messaging.inbound_media_sweep": {"task": "messaging.inbound_media_sweep", "every": 300},
    # "We're back" within a minute of opening; served conversations leave the opening queue.
    "messaging.business_hours_openings": {"task": "messaging.business_hours_openings", "every": 60},
    "channels.health_check_all": {"task": "channels.health_check_all", "every": 3600},
    # Templates edited in WhatsApp Manager reach us without a webhook: re-read every account 4 times a day.
    "channels.template_sync_all": {"task": "channels.template_sync_all", "every": 6 * 3600},
    "channels.template_syncs_sweep": {"task": "channels.template_syncs_sweep", "every": 120},
    # Scheduled messages go within a minute of their time; campaigns start on time and lost dispatchers restart.
    "outreach.scheduled_messages_send": {"task": "outreach.scheduled_messages_send", "every": 20},
    "outreach.campaigns_sweep": {"task": "outreach.campaigns_sweep", "every": 30},
    # The analytics' daily figures: the last 3 local days recomputed from the source rows (idempotent).
    "analytics.daily_stats_rollup": {"task": "analytics.daily_stats_rollup", "every": 300},
    # Event webhooks whose next attempt is due, or whose task the broker lost.
    "events.deliveries_sweep": {"task": "events.deliveries_sweep", "every": 15},
    # Retention policies (message contents, agent logs, webhook bodies) and stored files left to delete.
    "messaging.retention_apply": {"task": "messaging.retention_apply", "every": 24 * 3600},
}
CELERY_BEAT_SCHEDULE = {
    name: {"task": job["task"], "schedule": timedelta(seconds=job["every"])} for name, job in PERIODIC_JOBS.items()
}
# Exactly one scheduler: `manage.py run_scheduler` (the Procfile's `scheduler` role) claims each job's period in
# the database, and so does Celery beat through this class if someone runs it instead; a second one started
# beside the first runs nothing twice (whatsapp_platform/scheduler.py).
CELERY_BEAT_SCHEDULER = "whatsapp_platform.scheduler_beat:ClaimingBeatScheduler"
# Workers and the scheduler refresh a heartbeat row this often; /readyz and /metrics count a process alive
# for three intervals after its last beat.
HEARTBEAT_SECONDS = env.int("HEARTBEAT_SECONDS", default=15)

# --- Auth (django-allauth) -------------------------------------------------------------
AUTH_USER_MODEL = "workspaces_app.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "console_home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "workspaces_app.adapters.InvitationOnlyAccountAdapter"
MFA_ADAPTER = "workspaces_app.adapters.EncryptingMFAAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="none")
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Public signup is closed unless this is on; invited people can always sign up.
ACCOUNT_SIGNUP_OPEN = env_bool("ACCOUNT_SIGNUP_OPEN", default=False)
ACCOUNT_LOGIN_FAILED_ATTEMPTS = env.int("ACCOUNT_LOGIN_FAILED_ATTEMPTS", default=5)
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # Per IP and per account: a few failed passwords lock that pair out for 5 minutes.
    "login_failed": f"20/m/ip,{ACCOUNT_LOGIN_FAILED_ATTEMPTS}/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never outside tests
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="WhatsApp Agent Platform")
MFA_RECOVERY_CODE_COUNT = 10

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=IS_PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSP_ENABLED = env_bool("CSP_ENABLED", default=True)
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", default=False)

# --- Email -----------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    # The console copy of an email masks the credential in invitation and password-reset links.
    EMAIL_BACKEND = "whatsapp_platform.console_email.RedactingConsoleEmailBackend"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="WhatsApp Agent Platform <noreply@localhost>")

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["workspaces_app.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["workspaces_app.api_auth.HasWorkspaceApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["workspaces_app.api_throttle.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "whatsapp_platform.api.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "whatsapp_platform.api.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "whatsapp_platform.api_schema.PlatformAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp Agent Platform API",
    "DESCRIPTION": (
        "Drive channels, agents and conversations of one workspace. Authenticate with a workspace "
        "API key: `Authorization: Bearer <key>`. Errors share one shape: "
        '`{"error": {"code": ..., "message": ..., "field": ...}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgentProviderEnum": "agents_app.models.Agent.Provider",
        "ChannelProviderEnum": "channels_app.models.Channel.Provider",
        "ConversationStateEnum": "messaging_app.models.Conversation.State",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "whatsapp_platform.api_schema.error_responses_add",
    ],
}
# Per API key: this many requests a second sustained, bursts up to API_RATE_LIMIT_BURST (429 beyond).
API_RATE_LIMIT_PER_SECOND = env.float("API_RATE_LIMIT_PER_SECOND", default=20.0)
API_RATE_LIMIT_BURST = env.float("API_RATE_LIMIT_BURST", default=100.0)

# --- Static and media ------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(LOCAL_DIR / "staticfiles"))
MEDIA_ROOT = str(LOCAL_DIR / "media") if TESTING else env.path("MEDIA_ROOT", default=str(LOCAL_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", default=not DEBUG and IS_PRODUCTION)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_JSON = env_bool("LOG_JSON", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "whatsapp_platform.observability.RequestIdLogFilter"},
        "secrets": {"()": "whatsapp_platform.log_redaction.SecretRedactionFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "secrets"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        "bm25s": {"level": "WARNING"},  # it logs every index build at DEBUG
        # runserver's access log: Django's default gives it its own handler, without our redaction filter.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- WhatsApp Cloud API ----------------------------------------------------------------
GRAPH_API_BASE_URL = env.str("GRAPH_API_BASE_URL", default="https://graph.facebook.com").rstrip("/")
GRAPH_API_VERSION = env.str("GRAPH_API_VERSION", default="v25.0")
# Where sandbox channels reach the emulator's Graph API (the same server by default).
WHATSAPP_EMULATOR_GRAPH_URL = env.str("WHATSAPP_EMULATOR_GRAPH_URL", default=f"{SITE_URL}/emulator/graph").rstrip("/")
GRAPH_CONNECT_TIMEOUT = env.float("GRAPH_CONNECT_TIMEOUT", default=3.05)
GRAPH_READ_TIMEOUT = env.float("GRAPH_READ_TIMEOUT", default=20.0)
# The whole Graph exchange (SECURITY.md, "Timeouts"); media downloads get GRAPH_MEDIA_TOTAL_TIMEOUT.
GRAPH_TOTAL_TIMEOUT = env.float("GRAPH_TOTAL_TIMEOUT", default=30.0)
GRAPH_MEDIA_TOTAL_TIMEOUT = env.float("GRAPH_MEDIA_TOTAL_TIMEOUT", default=120.0)
# Retries of a retryable Graph error (rate limits, 5xx, timeouts before the request left).
GRAPH_MAX_RETRIES = env.int("GRAPH_MAX_RETRIES", default=5)
# The platform's own Meta app (embedded signup and the shared webhook).
META_APP_ID = env.str("META_APP_ID", default="")
META_APP_SECRET = env.str("META_APP_SECRET", default="")
META_LOGIN_CONFIG_ID = env.str("META_LOGIN_CONFIG_ID", default="")
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")
# Without a real Meta app, the emulator plays Meta's app too (dev and tests only), so Login
# with Facebook, the shared webhook and template events all work locally.
EMULATOR_META_APP_ID = "1000000000000001"
# Public (it is in this repository): a webhook it signs is believed only for sandbox channels.
EMULATOR_META_APP_SECRET = "emulator-app-secret"
if WHATSAPP_EMULATOR_ENABLED and not META_APP_ID:
    META_APP_ID = EMULATOR_META_APP_ID
    META_APP_SECRET = META_APP_SECRET or EMULATOR_META_APP_SECRET
    META_LOGIN_CONFIG_ID = META_LOGIN_CONFIG_ID or "emulator-login-config"
    WHATSAPP_VERIFY_TOKEN = WHATSAPP_VERIFY_TOKEN or "emulator-verify-token"
# Meta sends up to 3 MB per webhook POST; Django's 2.5 MB default would answer 400 and
# Meta would retry for 7 days. Other requests keep a sane cap too.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=4 * 1024 * 1024)
# Webhook POSTs with a missing or wrong signature are recorded (size, headers, a 256-byte prefix) up to
# this many per source address at once, refilled at this rate; beyond it they get 429 and are not stored.
WEBHOOK_REJECTIONS_BURST = env.int("WEBHOOK_REJECTIONS_BURST", default=30)
WEBHOOK_REJECTIONS_PER_MINUTE = env.float("WEBHOOK_REJECTIONS_PER_MINUTE", default=10.0)
# Messages per second per business number (Meta's default throughput is 80).
WHATSAPP_DEFAULT_MPS = env.int("WHATSAPP_DEFAULT_MPS", default=80)
# Messages one customer may receive in a burst before sends to them are spaced 6 s apart
# (Meta's pair rate limit allows short bursts, then about one message per 6 s).
WHATSAPP_PAIR_BURST = env.int("WHATSAPP_PAIR_BURST", default=20)
# A send whose answer was lost waits this long for a status webhook before it is resent once.
WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS = env.int("WHATSAPP_UNKNOWN_OUTCOME_GRACE_SECONDS", default=600)
# A row claimed for sending longer than this belongs to a worker that died.
WHATSAPP_SENDING_LEASE_SECONDS = env.int("WHATSAPP_SENDING_LEASE_SECONDS", default=120)
# A queued row untouched this long has lost its task (broker flushed): the sweeper re-enqueues it.
WHATSAPP_OUTBOX_STALE_SECONDS = env.int("WHATSAPP_OUTBOX_STALE_SECONDS", default=30)
# Multiplies retry back-off delays (tests shrink them; 1.0 in production).
WHATSAPP_RETRY_DELAY_SCALE = env.float("WHATSAPP_RETRY_DELAY_SCALE", default=1.0)
# A stored webhook still pending this long lost its drain hint (broker down or flushed): the sweeper drains it.
WHATSAPP_WEBHOOK_EVENTS_STALE_SECONDS = env.int("WHATSAPP_WEBHOOK_EVENTS_STALE_SECONDS", default=60)
# Webhook drains that may run at once, across every worker process: each claims its own batches, so more
# worker processes process more (the rest of a worker's threads stay free for sends and campaigns).
WHATSAPP_WEBHOOK_DRAINS = env.int("WHATSAPP_WEBHOOK_DRAINS", default=4)
# How long a drain's claim on a batch of events lasts: longer than a batch takes, so a batch is taken once;
# when its worker dies, the events are claimed again after this (by the next drain or the sweeper).
WHATSAPP_WEBHOOK_CLAIM_SECONDS = env.int("WHATSAPP_WEBHOOK_CLAIM_SECONDS", default=30)
# A customer message not handled this long after it was stored lost its task (or its agent turn lost its
# worker): the inbound sweeper hands it again. Longer than any agent's debounce.
WHATSAPP_INBOUND_STALE_SECONDS = env.int("WHATSAPP_INBOUND_STALE_SECONDS", default=120)
# An agent turn holds its conversation for this long, renewed before each model call; a lease that lapses
# means the turn's worker died, and the turn is answered again.
AGENT_TURN_LEASE_SECONDS = env.int("AGENT_TURN_LEASE_SECONDS", default=120)
# Knowledge retrieval blends BM25 with a multilingual sentence-embedding model shipped in a wheel
# (agents_app/knowledge/embeddings.py); false: BM25 alone (bench/agent_eval.py compares the two).
AGENT_KNOWLEDGE_EMBEDDINGS = env_bool("AGENT_KNOWLEDGE_EMBEDDINGS", default=True)

# --- Platform --------------------------------------------------------------------------
# Hosts (`name` or `name:port`) an agent's HTTP tools may reach although they resolve to a
# private, loopback or link-local address; every other private address is refused (SSRF guard).
AGENT_TOOL_ALLOWED_HOSTS = env.list("AGENT_TOOL_ALLOWED_HOSTS", default=[])
# The same for the URLs workspaces subscribe to event webhooks (checked at creation and at each delivery).
EVENT_WEBHOOK_ALLOWED_HOSTS = env.list("EVENT_WEBHOOK_ALLOWED_HOSTS", default=[])
# Per attempt: seconds to connect, and to wait for the answer.
EVENT_WEBHOOK_CONNECT_TIMEOUT = env.float("EVENT_WEBHOOK_CONNECT_TIMEOUT", default=3.0)
EVENT_WEBHOOK_READ_TIMEOUT = env.float("EVENT_WEBHOOK_READ_TIMEOUT", default=10.0)
# The whole attempt, however the endpoint paces its answer (SECURITY.md, "Timeouts").
EVENT_WEBHOOK_TOTAL_TIMEOUT = env.float("EVENT_WEBHOOK_TOTAL_TIMEOUT", default=15.0)
# How long the old secret keeps signing after a rotation (both signatures are sent meanwhile).
EVENT_WEBHOOK_SECRET_OVERLAP_HOURS = env.int("EVENT_WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
# A subscription whose every attempt failed for this long is disabled and its owners emailed.
EVENT_WEBHOOK_DISABLE_AFTER_HOURS = env.int("EVENT_WEBHOOK_DISABLE_AFTER_HOURS", default=72)
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60
# Bearer token a Prometheus scraper sends to /metrics. Empty: /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if IS_PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be a random value of at least 24 characters.")
