"""Test settings: the real settings, with a fast password hasher and eager tasks."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Tests deliver SMS, in-game mail and WeChat to the log, by explicit choice (crm/channels.py);
# the providers' tests point their backends at local fakes.
os.environ.setdefault("CRM_SMS_BACKEND", "console")
os.environ.setdefault("CRM_IN_GAME_BACKEND", "console")
os.environ.setdefault("CRM_WECHAT_BACKEND", "console")
os.environ.setdefault("CRM_CONSOLE_BACKEND_ALLOWED", "true")  # a development machine

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
AXES_ENABLED = True
