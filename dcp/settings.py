"""DCP settings, read from environment variables.

With nothing set, DCP runs on its embedded default: SQLite and a filesystem
broker under ./var, secrets generated once into ./var. With DCP_ENV=production,
every setting a deployment must choose is required and checked at start.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from dcp import env

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.get("DCP_DATA_DIR", str(BASE_DIR / "var")))

DCP_ENV = env.get("DCP_ENV", "embedded")
if DCP_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(f"DCP_ENV={DCP_ENV!r} must be 'embedded' or 'production'.")
PRODUCTION = DCP_ENV == "production"

DEBUG = env.get_bool("DCP_DEBUG", False)
SECRET_KEY = env.get("SECRET_KEY", required=PRODUCTION) or env.local_secret(DATA_DIR / "secret_key", env.new_secret_key)
if PRODUCTION and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")

DCP_ENCRYPTION_KEYS = env.check_fernet_keys(
    "DCP_ENCRYPTION_KEY",
    env.get("DCP_ENCRYPTION_KEY", required=PRODUCTION)
    or env.local_secret(DATA_DIR / "encryption_key", env.new_fernet_key),
)

ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set: a comma-separated list of host names.")
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "apps.core",
    "apps.accounts",
    "apps.providers",
    "apps.inventory",
    "apps.provisioning",
    "apps.configuration",
    "apps.costs",
    "apps.console",
    "apps.monitoring",
    "apps.scaling",
]

MIDDLEWARE = [
    # Outermost, so a request's time and status are what the client got, whatever answered it.
    "apps.monitoring.http.HttpMetricsMiddleware",
    # First, so that it sees the cookies every other middleware sets on the way out.
    "apps.core.middleware.SecureCookieMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Inside the session's middleware, so the session it marks to move its end on is saved on the way out.
    "apps.core.middleware.IdleSessionMiddleware",
    # After the session and before anything that answers: picks the console's language (see apps.console.i18n).
    "apps.console.i18n.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "dcp.urls"
WSGI_APPLICATION = "dcp.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Database: DATABASE_URL, or SQLite under ./var in the embedded default.
_database_url = env.get("DATABASE_URL", required=PRODUCTION)
if _database_url:
    env.check_url("DATABASE_URL", _database_url, {"postgres", "postgresql", "pgsql", "sqlite"})
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "dcp.sqlite3"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # IMMEDIATE transactions take SQLite's write lock up front, which stands in
    # for the row locks PostgreSQL gives; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

# The console speaks English and Simplified Chinese: chosen per user, else per session, else by Accept-Language.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.get("TIME_ZONE", "UTC")
USE_I18N = True
# Dates, times (always with their time zone) and figures in the reader's language: dcp/formats/<language>/.
FORMAT_MODULE_PATH = ["dcp.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.get("DCP_STATIC_ROOT", str(DATA_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = not PRODUCTION

# Requests: a scale call is tiny; anything past this is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("DCP_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

# Signing in (the API's token endpoint and the console's login page alike): attempts per client address,
# and failed attempts per username before it is locked out for a while. Counted in the database, so every
# web process shares them. The client address is REMOTE_ADDR, unless DCP_TRUSTED_PROXIES says how many proxies
# in front of DCP append to X-Forwarded-For (set it only when DCP cannot be reached but through them).
DCP_AUTH_RATE = env.get_rate("DCP_AUTH_RATE", "30/min")
DCP_TRUSTED_PROXIES = env.get_int("DCP_TRUSTED_PROXIES", 0, minimum=0)
DCP_LOGIN_LOCKOUT_FAILURES = env.get_int("DCP_LOGIN_LOCKOUT_FAILURES", 10, minimum=1)
DCP_LOGIN_LOCKOUT_SECONDS = env.get_int("DCP_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

SESSION_COOKIE_HTTPONLY = True
# DCP_SECURE_COOKIES makes cookies Secure even on a request that does not look like TLS (in production,
# where it is on by default); apart from it, SecureCookieMiddleware marks them Secure on every request
# that came over TLS, which is how DCP knows it is served over TLS whatever the deployment.
SESSION_COOKIE_SECURE = PRODUCTION and env.get_bool("DCP_SECURE_COOKIES", True)
# A console session ends after this long without a request (apps.core.middleware.IdleSessionMiddleware moves
# its end on, at most once every DCP_SESSION_REFRESH_SECONDS, rather than writing the session at every request).
SESSION_COOKIE_AGE = env.get_int("DCP_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
DCP_SESSION_REFRESH_SECONDS = min(60, SESSION_COOKIE_AGE // 10)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a proxy that terminates TLS, trust its X-Forwarded-Proto so Django knows requests were HTTPS.
if env.get_bool("DCP_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.get_int("DCP_HSTS_SECONDS", 0)
# TLS, and redirecting plain HTTP to it, belong to the proxy or load balancer in front of DCP;
# HSTS is opt-in (DCP_HSTS_SECONDS) because a wrong value locks browsers out for its duration.
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]
X_FRAME_OPTIONS = "DENY"

# API tokens. One made by exchanging a password (POST /api/v1/auth/token/) lasts DCP_TOKEN_EXCHANGE_HOURS,
# and a user keeps at most DCP_TOKEN_EXCHANGE_MAX of them: making one more revokes the oldest, so each
# login does not leave a live token behind for ever. A named token (API, console) lasts
# DCP_TOKEN_DEFAULT_DAYS unless its maker chooses up to DCP_TOKEN_MAX_DAYS, or no expiry at all only
# where DCP_TOKEN_ALLOW_NO_EXPIRY is on.
DCP_TOKEN_EXCHANGE_HOURS = env.get_int("DCP_TOKEN_EXCHANGE_HOURS", 12, minimum=1)
DCP_TOKEN_EXCHANGE_MAX = env.get_int("DCP_TOKEN_EXCHANGE_MAX", 10, minimum=1)
DCP_TOKEN_DEFAULT_DAYS = env.get_int("DCP_TOKEN_DEFAULT_DAYS", 90, minimum=1)
DCP_TOKEN_MAX_DAYS = env.get_int("DCP_TOKEN_MAX_DAYS", 365, minimum=1)
DCP_TOKEN_ALLOW_NO_EXPIRY = env.get_bool("DCP_TOKEN_ALLOW_NO_EXPIRY", False)
if DCP_TOKEN_DEFAULT_DAYS > DCP_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured(
        f"DCP_TOKEN_DEFAULT_DAYS={DCP_TOKEN_DEFAULT_DAYS} must not exceed DCP_TOKEN_MAX_DAYS={DCP_TOKEN_MAX_DAYS}."
    )
if DCP_TOKEN_EXCHANGE_HOURS > DCP_TOKEN_MAX_DAYS * 24:
    raise ImproperlyConfigured(
        f"DCP_TOKEN_EXCHANGE_HOURS={DCP_TOKEN_EXCHANGE_HOURS} must not exceed DCP_TOKEN_MAX_DAYS={DCP_TOKEN_MAX_DAYS}"
        " days."
    )

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "apps.core.api.filters.FilterBackend",
        "apps.core.api.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DCP API",
    "DESCRIPTION": "Multi-cloud resource scheduling: clusters, service pools, hosts, scale jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.api.schema.postprocess_requests",
    ],
    # Choice sets used by more than one component keep one name (Job and JobDetail, hosts, providers and prices).
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "apps.provisioning.choices.JobKind.CHOICES",
        "JobStatusEnum": "apps.provisioning.choices.JobStatus.CHOICES",
        "HostStatusEnum": "apps.inventory.choices.HostStatus.CHOICES",
        "ProviderKindEnum": "apps.providers.choices.ProviderKind.CHOICES",
        "DeliveryStatusEnum": "apps.costs.budgets.choices.DeliveryStatus.CHOICES",
        "BudgetStatusEnum": "apps.costs.budgets.choices.BudgetStatus.CHOICES",
        "StepUnitEnum": "apps.scaling.choices.StepUnit.CHOICES",
    },
}

# Celery: a broker URL, or kombu's filesystem transport under ./var (no server).
_broker_url = env.get("CELERY_BROKER_URL", required=PRODUCTION)
if _broker_url:
    env.check_url("CELERY_BROKER_URL", _broker_url, {"redis", "rediss", "amqp", "amqps", "pyamqp"})
    CELERY_BROKER_URL = _broker_url
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.get_int("DCP_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# DCP's queues: the engine's own steps, provider calls and host initialization. Declared, so a worker
# started without --queues consumes all three; --queues gives a worker one kind of work. Each queue has
# its own direct exchange and routing key, the shape Celery gives a queue it creates on demand, so
# messages already queued by an earlier version are consumed unchanged.
DCP_QUEUES = ("engine", "provider", "init")
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in DCP_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "engine"
CELERY_TASK_ROUTES = {
    "apps.provisioning.tasks.create_hosts": {"queue": "provider"},
    "apps.provisioning.tasks.terminate_hosts": {"queue": "provider"},
    "apps.provisioning.tasks.poll_batch": {"queue": "provider"},
    "apps.provisioning.tasks.tag_hosts": {"queue": "provider"},
    "apps.provisioning.tasks.sweep_providers": {"queue": "provider"},
    "apps.provisioning.tasks.sweep_provider": {"queue": "provider"},
    "apps.provisioning.tasks.initialize_hosts": {"queue": "init"},
    "apps.configuration.tasks.run_initialization": {"queue": "init"},
    "apps.configuration.tasks.run_init_job": {"queue": "init"},
    "apps.costs.tasks.sync_prices": {"queue": "provider"},
    "apps.costs.tasks.sync_account_prices": {"queue": "provider"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "reconcile-all": {
        "task": "apps.provisioning.tasks.reconcile_all",
        "schedule": env.get_int("DCP_RECONCILE_INTERVAL", 30, minimum=1),
    },
    # Orphans and lost hosts: each provider's tagged instances against the database.
    "sweep-providers": {
        "task": "apps.provisioning.tasks.sweep_providers",
        "schedule": env.get_int("DCP_SWEEP_INTERVAL", 300, minimum=1),
    },
    # Budgets: thresholds crossed this period fire their alerts; deliveries due for another try are sent.
    "check-budgets": {
        "task": "apps.costs.budgets.tasks.check_budgets",
        "schedule": env.get_int("DCP_BUDGET_CHECK_INTERVAL", 300, minimum=1),
    },
    # Pools' and clusters' run-rate and cost this month, kept for the lists (apps.costs.kept).
    "keep-group-costs": {
        "task": "apps.costs.tasks.keep_group_costs",
        "schedule": env.get_int("DCP_COST_FIGURES_INTERVAL", 60, minimum=1),
    },
    # Cost reports of periods just closed (and missed ones), and e-mails due for another try.
    "make-cost-reports": {
        "task": "apps.costs.reports.tasks.make_cost_reports",
        "schedule": env.get_int("DCP_COST_REPORT_INTERVAL", 300, minimum=1),
    },
}
# Scaling schedules' due occurrences, and policies whose alerts stayed resolved for their stable period.
CELERY_BEAT_SCHEDULE["run-scaling-schedules"] = {
    "task": "apps.scaling.tasks.run_schedules",
    "schedule": env.get_int("DCP_SCHEDULE_INTERVAL", 15, minimum=1),
}
CELERY_BEAT_SCHEDULE["settle-scaling-policies"] = {
    "task": "apps.scaling.tasks.settle_policies",
    "schedule": env.get_int("DCP_POLICY_SETTLE_INTERVAL", 30, minimum=1),
}
# The providers' prices into the catalog, once a day at this hour (0-23, Celery's time zone: UTC).
DCP_PRICE_SYNC_HOUR = env.get_int("DCP_PRICE_SYNC_HOUR", 3, minimum=0)
if DCP_PRICE_SYNC_HOUR > 23:
    raise ImproperlyConfigured(f"DCP_PRICE_SYNC_HOUR={DCP_PRICE_SYNC_HOUR} must be an hour of the day, 0 to 23.")
# How often beat looks for pools whose drift check (ServicePool.drift_check_interval, hours) is due.
CELERY_BEAT_SCHEDULE["start-drift-checks"] = {
    "task": "apps.configuration.tasks.start_drift_checks",
    "schedule": env.get_int("DCP_DRIFT_CHECK_SCAN_INTERVAL", 300, minimum=1),
}
CELERY_BEAT_SCHEDULE["sync-prices"] = {
    "task": "apps.costs.tasks.sync_prices",
    "schedule": crontab(hour=DCP_PRICE_SYNC_HOUR, minute=0),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The rate limiter shared by all workers keeps its buckets in Redis when there is one.
DCP_REDIS_URL = env.get("DCP_REDIS_URL") or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
if DCP_REDIS_URL:
    env.check_url("DCP_REDIS_URL", DCP_REDIS_URL, {"redis", "rediss", "unix"})
DCP_RATE_LIMIT_MAX_WAIT = float(env.get_int("DCP_RATE_LIMIT_MAX_WAIT", 2, minimum=0))
# Caches (provider catalogs, throttle counters) are shared through Redis when there is one.
if DCP_REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DCP_REDIS_URL}}
# Costs: the default report currency, and the time zone whose calendar days and months costs are cut by
# (a physical machine's monthly_cost is spread over its calendar months; exchange rates apply per day).
DCP_CURRENCY = env.get_currency("DCP_CURRENCY", "USD")
# Lists of pools and clusters show kept cost figures (apps.costs.kept) at most this old.
DCP_COST_FIGURES_MAX_AGE = env.get_int("DCP_COST_FIGURES_MAX_AGE", 300, minimum=0)
DCP_TIME_ZONE = env.get_time_zone("DCP_TIME_ZONE", "UTC")
# The language of e-mails and webhook messages to a recipient who has not chosen one on the console (en, zh-hans).
DCP_LANGUAGE = env.get_language("DCP_LANGUAGE", "en", LANGUAGES)
DCP_CATALOG_TTL = env.get_int("DCP_CATALOG_TTL", 600, minimum=0)
# A budget alert's delivery (e-mail or webhook) is tried this many times in all, the wait doubling from
# DCP_BUDGET_RETRY_SECONDS, then shown as failed on the alert.
DCP_BUDGET_DELIVERY_ATTEMPTS = env.get_int("DCP_BUDGET_DELIVERY_ATTEMPTS", 5, minimum=1)
DCP_BUDGET_RETRY_SECONDS = env.get_int("DCP_BUDGET_RETRY_SECONDS", 60, minimum=1)
# Scheduled cost reports: a missed period (DCP down when it closed) is made when DCP is back, at most this
# many of the latest per schedule; a failed e-mail is tried this many times in all, the wait doubling from
# DCP_COST_REPORT_RETRY_SECONDS, then recorded as failed.
DCP_COST_REPORT_CATCH_UP = env.get_int("DCP_COST_REPORT_CATCH_UP", 3, minimum=1)
DCP_COST_REPORT_ATTEMPTS = env.get_int("DCP_COST_REPORT_ATTEMPTS", 5, minimum=1)
DCP_COST_REPORT_RETRY_SECONDS = env.get_int("DCP_COST_REPORT_RETRY_SECONDS", 60, minimum=1)

# E-mail (cost reports, budget alerts): Django's standard settings from the environment. With EMAIL_HOST
# set, or in production, mail goes over SMTP; the embedded default writes each message to a file under
# ./var/mail, so a new user can read the reports the demo sends without a mail server.
EMAIL_HOST = env.get("EMAIL_HOST", "") or ""
EMAIL_PORT = env.get_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.get_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them (or neither).")
EMAIL_TIMEOUT = env.get_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "DCP <dcp@localhost>")
_smtp = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "") or (
    _smtp if EMAIL_HOST or PRODUCTION else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# Engine policy.
DCP_STUCK_AFTER_SECONDS = env.get_int("DCP_STUCK_AFTER_SECONDS", 120, minimum=1)
DCP_CREATE_BATCH_SIZE = env.get_int("DCP_CREATE_BATCH_SIZE", 100, minimum=1)
DCP_HOST_RETRIES = env.get_int("DCP_HOST_RETRIES", 2, minimum=0)
DCP_BOOT_TIMEOUT = env.get_int("DCP_BOOT_TIMEOUT", 900, minimum=1)
# Seconds a template's zone is passed over after the provider said it has no capacity there.
DCP_CAPACITY_COOLDOWN = env.get_int("DCP_CAPACITY_COOLDOWN", 300, minimum=0)
# Seconds between two looks at every instance of a booting batch (one describe call for the batch).
DCP_POLL_INTERVAL = env.get_int("DCP_POLL_INTERVAL", 5, minimum=1)
# In between, one booting instance of the batch is probed this often (seconds; 0 turns probes off), so
# a batch is seen running within about this long of booting; each probe is one small call. Probes of
# one account share DCP_PROBE_RATE_SHARE of its describe rate limit: with many batches booting on one
# account each is probed less often, and the calls that must happen (creates, full polls) keep the rest.
DCP_PROBE_INTERVAL = env.get_float("DCP_PROBE_INTERVAL", 0.5, minimum=0.0)
DCP_PROBE_RATE_SHARE = env.get_float("DCP_PROBE_RATE_SHARE", 0.5, minimum=0.01)
# A provider call that was throttled or failed on the way is tried again after 2, 4, 8... seconds (with jitter),
# at most this long apart (seconds), up to 20 tries.
DCP_PROVIDER_RETRY_MAX_DELAY = env.get_int("DCP_PROVIDER_RETRY_MAX_DELAY", 30, minimum=1)
# The sweep destroys an orphan only once it has been one for this long, seen by two sweeps; an instance
# of a host terminated less than this long ago is given the same time to leave the provider's listing.
DCP_ORPHAN_GRACE_SECONDS = env.get_int("DCP_ORPHAN_GRACE_SECONDS", 60, minimum=0)

# Initialization (Ansible, Puppet over SSH).
DCP_PLAYBOOKS_DIR = Path(env.get("DCP_PLAYBOOKS_DIR", str(BASE_DIR / "playbooks")))
DCP_PUPPET_DIR = Path(env.get("DCP_PUPPET_DIR", str(BASE_DIR / "puppet")))
# Seconds one run (all its hosts) may take before ansible-runner stops it; its tasks may take a minute more.
DCP_INIT_TIMEOUT = env.get_int("DCP_INIT_TIMEOUT", 1800, minimum=10)
DCP_INIT_FORKS = env.get_int("DCP_INIT_FORKS", 20, minimum=1)
# A host whose initialization failed is run again this many times, this many seconds later, then replaced.
DCP_INIT_RETRIES = env.get_int("DCP_INIT_RETRIES", 1, minimum=0)
DCP_INIT_RETRY_DELAY = env.get_int("DCP_INIT_RETRY_DELAY", 30, minimum=0)
DCP_SSH_CONNECT_TIMEOUT = env.get_int("DCP_SSH_CONNECT_TIMEOUT", 10, minimum=1)
# Where each run's private data directory (inventory, keys, secrets; removed after the run) is made.
DCP_INIT_WORK_DIR = env.get("DCP_INIT_WORK_DIR", "")
_init_limits = {"soft_time_limit": DCP_INIT_TIMEOUT + 30, "time_limit": DCP_INIT_TIMEOUT + 60}
CELERY_TASK_ANNOTATIONS = {
    "apps.provisioning.tasks.initialize_hosts": _init_limits,
    "apps.configuration.tasks.run_initialization": _init_limits,
    "apps.configuration.tasks.run_init_job": _init_limits,
}

# GET /metrics (Prometheus text format) answers a system administrator's API token, the dedicated
# DCP_METRICS_TOKEN (both as "Authorization: Bearer <token>"), or a request made directly (no proxy
# header) from an address in DCP_METRICS_ALLOWED_NETWORKS (CIDRs, comma-separated; loopback by default,
# empty for none). Anyone else gets 401, a token of someone else 403.
DCP_METRICS_TOKEN = env.get("DCP_METRICS_TOKEN", "") or ""
if DCP_METRICS_TOKEN and len(DCP_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("DCP_METRICS_TOKEN must be at least 16 characters long (or unset).")
DCP_METRICS_ALLOWED_NETWORKS = env.get_networks("DCP_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])

# Logs: DCP_LOG_FORMAT=json writes one JSON object a line (time, level, logger, message and the ids of the
# request or task: request_id, job, pool, host, ...); text (the default) writes the same ids as key=value.
DCP_LOG_FORMAT = env.get("DCP_LOG_FORMAT", "text")
if DCP_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"DCP_LOG_FORMAT={DCP_LOG_FORMAT!r} must be 'json' or 'text'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.monitoring.logs.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": {"()": "apps.monitoring.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": DCP_LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.get("DCP_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The Aliyun SDK logs every error answer (even an expected "already deleted") at ERROR;
        # DCP maps and reports provider errors itself.
        "aliyunsdkcore": {"level": "CRITICAL"},
    },
}
