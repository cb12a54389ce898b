"""Every changelist of ours costs a fixed number of queries, however many rows it shows.

Generic over `admin.site._registry`: for each ModelAdmin of our apps, rows are made
by a small field-driven factory, the changelist is opened with a few rows and again
with more, and the query counts must be equal (no N+1) and small. Areas that add a
ModelAdmin are covered without writing anything; an admin whose rows the factory
cannot build is skipped with the reason shown (then pin it by hand in its area).
"""

import itertools
import random
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

OUR_APPS = {"crm", "players", "vip", "campaigns"}
MAX_QUERIES = 25
_counter = itertools.count(1)
_random = random.Random(2026)


def our_model_admins():
    return sorted(
        (m for m in admin.site._registry if m._meta.app_label in OUR_APPS),
        key=lambda m: m._meta.label,
    )


def field_value(field, made, n=None):
    n = next(_counter) if n is None else n
    if field.choices:
        return field.choices[n % len(field.choices)][0]
    if isinstance(field, models.ForeignKey):
        return make_row(field.related_model, made, reuse=True)
    if isinstance(field, models.EmailField):
        return f"u{n}@example.com"
    if isinstance(field, models.URLField):
        return f"https://example.com/{n}"
    if isinstance(field, models.CharField | models.TextField):
        return f"x{n}"[: field.max_length or 20]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField):
        return n
    if isinstance(field, models.DecimalField):
        return Decimal(1)
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.DateTimeField):
        return timezone.now() - timedelta(minutes=n)
    if isinstance(field, models.DateField):
        return timezone.localdate()
    if isinstance(field, models.TimeField):
        return time(10, 0)
    if isinstance(field, models.DurationField):
        return timedelta(hours=1)
    if isinstance(field, models.JSONField):
        return {}
    raise TypeError(f"no value for {field!r}")


def make_row(model, made, reuse=False, building=()):
    """A saved row of `model`: every required field filled, every foreign key set
    (also optional ones, so that a column showing it would cost a query per row,
    except where that would loop back to a model being built). Should a unique
    constraint refuse it, optional choice fields are varied and related rows made anew."""
    if model is get_user_model():
        if reuse and model in made:
            return made[model]
        user = model.objects.create_user(username=f"user{next(_counter)}", password="pw")
        made[model] = user
        return user
    if reuse and model not in made:
        made[model] = model._default_manager.order_by("pk").first()  # e.g. the seeded tiers
    if reuse and made.get(model) is not None:
        return made[model]
    for attempt in range(12):
        obj = model()
        for field in model._meta.concrete_fields:
            if field.primary_key or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                continue
            if isinstance(field, models.ForeignKey):
                if field.related_model in (model, *building):
                    if field.null:
                        continue
                    raise TypeError(f"{model._meta.label}.{field.name} loops back")
                # a unique constraint over foreign keys: later attempts use fresh related rows
                related = make_row(field.related_model, made, reuse=attempt == 0, building=(*building, model))
                setattr(obj, field.name, related)
            elif attempt and field.choices and field.blank:
                setattr(obj, field.name, _random.choice(field.choices)[0])
            elif field.has_default() or field.null or (field.blank and field.empty_strings_allowed):
                continue
            else:
                setattr(obj, field.name, field_value(field, made))
        try:
            with transaction.atomic():
                obj.save()
            break
        except IntegrityError:
            if attempt == 11:
                raise
    if made.get(model) is None:
        made[model] = obj
    return obj


def changelist_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.mark.parametrize("model", our_model_admins(), ids=lambda m: m._meta.label)
def test_changelist_query_count_does_not_grow_with_rows(model, superuser):
    client = Client()
    client.force_login(superuser)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    made = {}
    try:
        for _n in range(2):
            make_row(model, made)
    except Exception as exc:
        pytest.skip(f"the generic factory cannot build {model._meta.label} rows ({exc}); pin it in its area")
    client.get(url)  # warm the session and permission caches

    few = changelist_queries(client, url)
    for _n in range(6):
        make_row(model, made)
    many = changelist_queries(client, url)

    assert model._default_manager.count() >= 8
    assert many == few, f"{model._meta.label}: {few} queries with 2 rows, {many} with 8 (N+1?)"
    assert many <= MAX_QUERIES
