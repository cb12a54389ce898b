"""Settings, read from the environment (django-environ).

Every value that differs between a laptop and production comes from an environment
variable; see README.md ("Configuration") for the list. Nothing secret is committed.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from crm.api.schema_description import DESCRIPTION as API_DESCRIPTION
from crm.channels import message_backends_setting, message_caps_setting

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Required where the site is served (crm/wsgi.py refuses to start without it). Without
# it, management commands (check, makemigrations, tests) still run, on a random key
# made for this process only: nothing signed with it outlives the process.
SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_FROM_ENVIRONMENT = bool(SECRET_KEY)
if not SECRET_KEY:
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "django_celery_beat",
    "simple_history",
    "phonenumber_field",
    "axes",
    "crm",
    "players",
    "vip",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /api/: bodies over 1 MiB refused before parsing; escaped errors answered in JSON.
    "crm.api.middleware.ApiBoundaryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# SQLite by default, tuned for several concurrent writers: WAL lets readers work
# beside a writer, the busy timeout makes a second writer wait instead of failing,
# and IMMEDIATE transactions take the write lock at BEGIN, so a transaction that
# reads then writes cannot fail halfway with "database is locked".
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, with a health check that sends no query (crm/db/postgresql).
        DATABASES["default"]["ENGINE"] = "crm.db.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Django turns psycopg's prepared statements off (None), which also refuses
    # prepare=True. The event path prepares its few hot statements explicitly
    # (players.services.prepared); nothing is prepared automatically.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Authentication ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes: lock a username+address pair after repeated failures, and an address
# after more failures over any usernames (crm/lockout.py).
AXES_HANDLER = "crm.lockout.LoginLockoutHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
CRM_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("CRM_LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The security log names the account and the address attacked (never the password),
# and axes does not announce itself on every command.
AXES_SENSITIVE_PARAMETERS = []
AXES_VERBOSE = False
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "crm.lockout.client_address"

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
# Each area of the product keeps its own catalogue under locale/<area>/, so that
# work on one area never conflicts with another's translations.
LOCALE_PATHS = sorted(p for p in (BASE_DIR / "locale").glob("*") if p.is_dir())
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="CN")
PHONENUMBER_DB_FORMAT = "E164"

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "crm" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"

# --- Security (production values come from the environment) -----------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Email ------------------------------------------------------------------
EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm@localhost")
# Where staff reach the CRM, for links in e-mails (e.g. https://crm.example.com).
CRM_SITE_URL = env.str("CRM_SITE_URL", default="")

# --- Celery -----------------------------------------------------------------
# Without a broker every task runs eagerly in-process, so cron + management
# commands are enough for a single machine.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# The queue tasks go to (and workers read without -Q): one per deployment sharing a broker.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker keeps its database connection from task to task, as a web process keeps it
# from request to request (CONN_MAX_AGE, CONN_HEALTH_CHECKS: crm/celery.py closes it
# between tasks only when Django would between requests). Celery's own default closes it
# before and after every task: with a projection task queued after each accepted batch
# (ten a second at 2,000 events/s in batches of 200), each task paid a new PostgreSQL
# backend, cold catalog caches and statements planned afresh. Celery still closes it
# after every 2 x this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Filled by the apps (crm/celery.py reads it); keyed by a stable name.
CELERY_BEAT_SCHEDULE = {}

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # The game API: Bearer key + signed writes (crm/api/authentication.py), JSON only.
    "DEFAULT_AUTHENTICATION_CLASSES": ["crm.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.authentication.IsApiClient"],
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["crm.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "crm.api.negotiation.ApiContentNegotiation",
    "EXCEPTION_HANDLER": "crm.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Game player & VIP relations CRM API",
    "VERSION": "1.0.0",
    "DESCRIPTION": API_DESCRIPTION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.errors_postprocess",
    ],
}
# Requests per client: "<n>/<s|m|h>" sustained, and a burst allowance (empty rate: off).
CRM_API_THROTTLE_RATE = env.str("CRM_API_THROTTLE_RATE", default="1000/s")
CRM_API_THROTTLE_BURST = env.int("CRM_API_THROTTLE_BURST", default=2000)
CRM_API_SIGNATURE_TOLERANCE = 300  # seconds, both ways (the contract)
CRM_API_MAX_BODY_BYTES = 1024 * 1024  # the contract's 1 MiB
# How often a worker checks whether API clients changed elsewhere (crm/api/authentication.py):
# a disable or rotation stops a key everywhere within this.
CRM_API_CLIENT_CHECK_SECONDS = env.float("CRM_API_CLIENT_CHECK_SECONDS", default=0.5)

# --- This product -----------------------------------------------------------
CRM_BASE_CURRENCY = env.str("CRM_BASE_CURRENCY", default="CNY")
# Units of base currency per unit of the other currency, e.g. CRM_CURRENCY_RATES=USD=7.1,HKD=0.91
CRM_CURRENCY_RATES = env.dict("CRM_CURRENCY_RATES", default={})
# Service records: hours to resolve a case without a matching SLA policy, and whether
# supervisors get an e-mail when cases escalate.
CRM_CASE_SLA_HOURS = env.int("CRM_CASE_SLA_HOURS", default=72)
CRM_CASE_ESCALATION_EMAIL = env.bool("CRM_CASE_ESCALATION_EMAIL", default=True)
# Hours to the first answer when no SLA policy matches.
CRM_CASE_FIRST_RESPONSE_HOURS = env.int("CRM_CASE_FIRST_RESPONSE_HOURS", default=8)
# The team's working hours on working days (local time), for SLAs on working hours
# (crm.workdays): one span or several, e.g. "09:00-12:00,13:30-18:00".
CRM_WORKING_HOURS = env.str("CRM_WORKING_HOURS", default="09:00-18:00")
# Satisfaction surveys: sent on each resolution / after each return visit (an outbound
# contact that reached the player); one reminder this many hours later; links valid this
# many days; a score at or below CRM_SURVEY_LOW_SCORE opens a follow-up task for a
# supervisor. Links point at CRM_PUBLIC_BASE_URL (where players can reach the survey page).
CRM_SURVEY_ON_RESOLUTION = env.bool("CRM_SURVEY_ON_RESOLUTION", default=True)
CRM_SURVEY_AFTER_RETURN_VISIT = env.bool("CRM_SURVEY_AFTER_RETURN_VISIT", default=True)
CRM_SURVEY_REMIND_AFTER_HOURS = env.int("CRM_SURVEY_REMIND_AFTER_HOURS", default=48)
CRM_SURVEY_VALID_DAYS = env.int("CRM_SURVEY_VALID_DAYS", default=14)
CRM_SURVEY_LOW_SCORE = env.int("CRM_SURVEY_LOW_SCORE", default=2)
CRM_PUBLIC_BASE_URL = env.str("CRM_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Imports and exports: exports larger than this need players.export_large; admin imports
# run as a Celery task when a broker is set, else in a background thread ("sync": at once).
CRM_EXPORT_LIMIT = env.int("CRM_EXPORT_LIMIT", default=5000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "crm.security": {"level": "INFO"},
        "crm.api": {"level": "INFO"},
        "axes": {"level": "INFO"},
    },
}

# --- Automatic messages (campaigns, greetings) -------------------------------
# One backend per message channel (the channel registry, crm/channels.py): webhook (signed
# JSON POST to a URL: the game's mail service or an SMS gateway), email (Django's email,
# EMAIL_URL) or console (log only: the demo, by explicit choice). A channel left without a
# backend fails its messages visibly (and `manage.py check` warns).
CRM_MESSAGE_BACKENDS = message_backends_setting(env)
# The console backend (log only) reports "sent" for what nobody receives: development only.
CRM_CONSOLE_BACKEND_ALLOWED = env.bool("CRM_CONSOLE_BACKEND_ALLOWED", default=DEBUG)
# SMS providers (Aliyun, Tencent Cloud: CRM_SMS_BACKEND=aliyun|tencent, options in
# crm/channels.py SMS_PROVIDER_OPTIONS). Their delivery receipts arrive at
# /hooks/sms/<provider>/<token>/, the token an HMAC of the provider's name with this secret
# (`manage.py sms_receipt_urls` prints the URLs to enter in the providers' consoles).
CRM_SMS_RECEIPT_SECRET = env.str("CRM_SMS_RECEIPT_SECRET", default="")
# Promotional SMS go out only in these daytime hours, in the player's time zone.
CRM_SMS_MARKETING_HOURS = (
    env.str("CRM_SMS_MARKETING_HOURS_START", default="08:00"),
    env.str("CRM_SMS_MARKETING_HOURS_END", default="21:00"),
)
# Fatigue rules shared by every automatic marketing message (service messages are exempt):
# a cap per channel in the player's calendar day, week (Monday to Sunday) or month, e.g.
# CRM_MESSAGE_CAPS=sms:day:1,in_game:week:3,email:month:4; a channel not named there has
# CRM_MESSAGES_PER_WEEK a calendar week (0 = no cap).
CRM_MESSAGES_PER_WEEK = env.int("CRM_MESSAGES_PER_WEEK", default=2)
# WeCom's limit of group messages per customer (its company setting): month (as many as the
# month has days, WeCom's default), week (7) or day (1); the WeChat channel's cap.
CRM_WECOM_CUSTOMER_LIMIT = env.str("CRM_WECOM_CUSTOMER_LIMIT", default="month")
# A WeCom group-message task its member has not sent after this many days expires: its
# customers' messages fail with the reason (WeCom: CRM_WECHAT_BACKEND=wecom, CRM_WECOM_*).
CRM_WECOM_TASK_DAYS = env.int("CRM_WECOM_TASK_DAYS", default=3)
# Our own limit of calls to WeCom, per company, shared by the workers through the cache
# (campaigns/wecom_client.py): a token bucket, "<calls>/<s|m|h>" (empty: none) and its burst;
# at most rate + burst calls in any minute (9,000), under WeCom's 10,000 a minute.
CRM_WECOM_RATE = env.str("CRM_WECOM_RATE", default="8000/m")
CRM_WECOM_BURST = env.int("CRM_WECOM_BURST", default=1000)
CRM_MESSAGE_CAPS = message_caps_setting(env.str("CRM_MESSAGE_CAPS", default=""), wecom_limit=CRM_WECOM_CUSTOMER_LIMIT)
CRM_QUIET_HOURS = (env.str("CRM_QUIET_HOURS_START", default="22:00"), env.str("CRM_QUIET_HOURS_END", default="09:00"))
# Batches of the nightly churn scan run at once on PostgreSQL (one connection each).
CRM_CHURN_SCAN_WORKERS = env.int("CRM_CHURN_SCAN_WORKERS", default=2)
# The projection of accepted events (totals, tier, payer status) is logged as lagging
# (players.projection, WARNING) when its oldest unapplied event is older than this.
CRM_PROJECTION_LAG_WARN_SECONDS = env.float("CRM_PROJECTION_LAG_WARN_SECONDS", default=30.0)
# VIP people (several game accounts of one person): the tier scheme counts the spend of
# the person (every linked account, "person") or of each account alone ("account").
CRM_VIP_TIER_BASIS = env.str("CRM_VIP_TIER_BASIS", default="person")
# How long a merge of two people may be undone, in days.
CRM_PERSON_MERGE_UNDO_DAYS = env.int("CRM_PERSON_MERGE_UNDO_DAYS", default=30)
CRM_PLAYER_DEFAULT_TIMEZONE = env.str("CRM_PLAYER_DEFAULT_TIMEZONE", default="Asia/Shanghai")
# Failed deliveries are retried after 1, 2, 4, 8 ... minutes, then marked failed.
CRM_MESSAGE_MAX_ATTEMPTS = env.int("CRM_MESSAGE_MAX_ATTEMPTS", default=5)
CRM_MESSAGE_RETRY_BASE_SECONDS = env.int("CRM_MESSAGE_RETRY_BASE_SECONDS", default=60)

# --- Lawful outreach (PIPL, MIIT Order 31, NPPA) --------------------------------------
# Channel:purpose pairs a player must have granted before the CRM reaches them (opt-in);
# every other pair reaches a player unless they refused or withdrew (opt-out). See README.
CRM_CONSENT_OPT_IN = env.list("CRM_CONSENT_OPT_IN", default=["sms:marketing", "email:marketing"])
# Days a consent's history is kept after it was superseded (withdrawn, refused, renewed):
# at least 5 months (MIIT's draft: proof of consent kept 5 months); the purge keeps no less.
CRM_CONSENT_HISTORY_DAYS = env.int("CRM_CONSENT_HISTORY_DAYS", default=183)
# Every commercial SMS ends with how to refuse (MIIT Order 31).
CRM_SMS_OPT_OUT_SUFFIX = env.str("CRM_SMS_OPT_OUT_SUFFIX", default="拒收请回复R")
# Replies (upper-cased, trimmed) that withdraw a channel's marketing consent.
CRM_CONSENT_REFUSAL_REPLIES = env.list("CRM_CONSENT_REFUSAL_REPLIES", default=["R", "TD", "T", "N", "退订", "拒收"])
# NPPA spending caps for minors by age (from age: per payment, per calendar month, in
# CRM_BASE_CURRENCY); below the first age no paid service at all.
CRM_MINOR_NO_PAYMENT_UNDER = env.int("CRM_MINOR_NO_PAYMENT_UNDER", default=8)
CRM_MINOR_SPEND_CAPS = env.str("CRM_MINOR_SPEND_CAPS", default="8:50:200,16:100:400")

# The duplicate finder (players.services.duplicates): a phone, QQ, WeChat, e-mail or real
# name + birthday held by more accounts than this says nothing about who someone is (a test
# phone, an agency's QQ) and is not compared.
CRM_DUPLICATE_MAX_GROUP = env.int("CRM_DUPLICATE_MAX_GROUP", default=20)
# Server merges (players.services.servers) that rewrite the players table on PostgreSQL wait
# at most this many seconds for the readers already running (an export) before refusing.
CRM_SERVER_MERGE_LOCK_WAIT = env.float("CRM_SERVER_MERGE_LOCK_WAIT", default=10.0)

# Greetings: how many days back the daily job still greets occasions it missed.
CRM_GREETINGS_CATCH_UP_DAYS = env.int("CRM_GREETINGS_CATCH_UP_DAYS", default=3)
# The half-monthly top-spender return visits (campaigns.services.top_spenders): how many per
# server, and the gift proposed: this share of the half month's spend, at most this much.
CRM_TOP_SPENDER_COUNT = env.int("CRM_TOP_SPENDER_COUNT", default=3)
CRM_TOP_SPENDER_GIFT_RATE = env.str("CRM_TOP_SPENDER_GIFT_RATE", default="0.02")
CRM_TOP_SPENDER_GIFT_MAX = env.str("CRM_TOP_SPENDER_GIFT_MAX", default="2000")
# Key customers (重点客户) get the booked call too, wherever they rank: players with this tag,
# and (when set) every player at or above this VIP tier (its name, e.g. "V8"; empty: none).
CRM_KEY_CUSTOMER_TAG = env.str("CRM_KEY_CUSTOMER_TAG", default="重点客户")
CRM_KEY_CUSTOMER_MIN_TIER = env.str("CRM_KEY_CUSTOMER_MIN_TIER", default="")
# The language of automatic messages to players (e.g. the festival's name in a greeting).
CRM_PLAYER_LANGUAGE = env.str("CRM_PLAYER_LANGUAGE", default="zh-hans")
