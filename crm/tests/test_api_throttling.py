"""Per-client throttling with a Redis cache shared by workers: requests of one client
arriving at the same instant never spend the same token."""

import os
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import caches

from crm.api.throttling import ApiClientRateThrottle

REDIS_URL = os.environ.get("CRM_TEST_REDIS_CACHE_URL", "redis://127.0.0.1:6379/5")


@pytest.fixture
def redis_cache(settings):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL}: {exc}")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",  # this run's keys only
        }
    }
    yield caches["default"]


def allowed_at_once(client, count):
    """`count` threads ask the throttle for `client` at the same instant; how many may go."""
    barrier = threading.Barrier(count)
    answers = []

    def ask():
        request = SimpleNamespace(auth=client)
        barrier.wait()
        answers.append(ApiClientRateThrottle().allow_request(request, view=None))

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(answers)


def test_a_burst_is_spent_exactly_once_by_concurrent_requests(redis_cache, settings):
    settings.CRM_API_THROTTLE_RATE = "1/h"
    settings.CRM_API_THROTTLE_BURST = 10
    client = SimpleNamespace(pk=uuid.uuid4().int % 10**9)
    try:
        # 40 requests at once, three times: the burst of 10 goes in the first round, and
        # a token comes back only after an hour.
        assert [allowed_at_once(client, 40) for _round in range(3)] == [10, 0, 0]
    finally:
        redis_cache.delete(f"crm:api:throttle:{client.pk}")


def test_first_round_gets_the_whole_burst_and_the_refused_are_told_when(redis_cache, settings):
    settings.CRM_API_THROTTLE_RATE = "2/s"
    settings.CRM_API_THROTTLE_BURST = 4
    client = SimpleNamespace(pk=uuid.uuid4().int % 10**9)
    try:
        assert allowed_at_once(client, 20) == 4
        throttle = ApiClientRateThrottle()
        assert throttle.allow_request(SimpleNamespace(auth=client), view=None) is False
        assert throttle.wait() == 1  # half a second to the next token, said in whole seconds
    finally:
        redis_cache.delete(f"crm:api:throttle:{client.pk}")


def test_the_api_answers_429_from_the_shared_bucket(redis_cache, settings, api):
    settings.CRM_API_THROTTLE_RATE = "1/m"
    settings.CRM_API_THROTTLE_BURST = 2
    try:
        assert [api.get("/api/v1/vip/tiers/").status_code for _ in range(3)] == [200, 200, 429]
        assert int(api.get("/api/v1/vip/tiers/")["Retry-After"]) >= 1
    finally:
        redis_cache.delete(f"crm:api:throttle:{api.credentials.client.pk}")
