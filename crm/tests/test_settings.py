"""Settings from the environment: production checks, SQLite under concurrent
writers, the browser's language."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

BASE_DIR = str(settings.BASE_DIR)


def _run(args, **env):
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )


def production_env(tmp_path, **overrides):
    return {
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "crm.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
        "BEHIND_TLS_PROXY": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        # SMS and in-game mail go through the studio's gateways (an unconfigured channel is a warning)
        "CRM_SMS_BACKEND": "webhook",
        "CRM_SMS_WEBHOOK_URL": "https://sms.example.com/send",
        "CRM_SMS_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "CRM_IN_GAME_BACKEND": "webhook",
        "CRM_IN_GAME_WEBHOOK_URL": "https://game.example.com/mail",
        "CRM_IN_GAME_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        # WeChat through the company's WeCom
        "CRM_WECHAT_BACKEND": "wecom",
        "CRM_WECOM_CORP_ID": "ww0123456789abcdef",
        "CRM_WECOM_SECRET": secrets.token_urlsafe(32),
        **overrides,
    }


def test_check_deploy_is_clean_with_production_values(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_a_message_channel_without_a_backend(tmp_path):
    env = production_env(tmp_path, CRM_SMS_BACKEND="")
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "campaigns.W001" in result.stderr and "'sms'" in result.stderr


def test_check_deploy_complains_about_debug_and_a_weak_key(tmp_path):
    env = production_env(tmp_path, DEBUG="true", SECRET_KEY="short")
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "security.W018" in result.stderr and "security.W009" in result.stderr


def test_sqlite_lets_two_writers_wait_for_each_other(tmp_path):
    # given the default database configuration on a file-based SQLite database
    env = production_env(tmp_path, DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'writers.sqlite3'}")

    # when two threads each read and then write inside a transaction at the same moment
    result = _run(["-m", "crm.tests.sqlite_writers", "immediate"], **env)

    # then both commit: the second waits (busy timeout, BEGIN IMMEDIATE) instead of failing
    assert result.stdout.strip() == "ok 2", result.stdout + result.stderr


def test_sqlite_without_immediate_transactions_fails_with_database_is_locked(tmp_path):
    env = production_env(tmp_path, DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'writers.sqlite3'}")
    result = _run(["-m", "crm.tests.sqlite_writers", "deferred"], **env)
    assert "database is locked" in result.stdout, result.stdout + result.stderr


def test_sqlite_options_are_wal_busy_timeout_and_immediate():
    options = settings.SQLITE_OPTIONS
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 5
    assert "journal_mode=WAL" in options["init_command"]


@pytest.fixture
def compiled_core_catalogue(settings):
    call_command("compile_catalogues", stdout=open(os.devnull, "w"))  # noqa: SIM115
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)  # setting_changed resets translation caches


def test_browser_language_chinese_gives_a_chinese_admin(manager, make_player, compiled_core_catalogue):
    make_player(manager=manager)
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans,zh;q=0.9,en;q=0.5")
    client.force_login(manager)

    page = client.get("/admin/players/player/").content.decode()

    assert '<html lang="zh-hans"' in page
    assert "玩家与 VIP 关系管理" in page  # our site header
    assert "累计消费" in page  # our column "total spend"
    assert "Player &amp; VIP relations" not in page


def test_browser_language_english_stays_english(manager, compiled_core_catalogue):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    client.force_login(manager)
    page = client.get("/admin/players/player/").content.decode()
    assert "Player &amp; VIP relations" in page


def test_serving_refuses_to_start_without_a_secret_key(tmp_path):
    """Commands run on a throwaway key, but the WSGI application must not."""
    # An empty value also keeps a developer's .env (make demo) from supplying one.
    env = {**os.environ, "SECRET_KEY": "", "DJANGO_SETTINGS_MODULE": "crm.settings"}
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    serve = subprocess.run(
        [sys.executable, "-c", "import crm.wsgi"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert serve.returncode != 0 and "SECRET_KEY" in serve.stderr
