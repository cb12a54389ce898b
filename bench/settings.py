"""Settings for benchmarks: the real settings with DEBUG off (no query log kept),
plain HTTP for the test client, SMS and in-game mail to the log, and quiet logs. The
database comes from DATABASE_URL, which bench.common.bench_database points at a copy
of the dataset."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
# Benchmarks deliver SMS and in-game mail to the log, by explicit choice (crm/channels.py),
# as tests do: a message due during a benchmark is sent as before the channel registry,
# not failed as unconfigured (the greetings bench queues for a future day: nothing is due).
os.environ.setdefault("CRM_SMS_BACKEND", "console")
os.environ.setdefault("CRM_IN_GAME_BACKEND", "console")
os.environ.setdefault("CRM_CONSOLE_BACKEND_ALLOWED", "true")  # a development machine

from crm.settings import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
