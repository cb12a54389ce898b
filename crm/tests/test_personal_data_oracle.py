"""The personal-data oracle: for a staff user without players.view_personal_data, no
admin changelist or export may answer differently depending on a value it hides.

Generic over `admin.site._registry`: for every registered ModelAdmin, the shortest path
from its model to a Player is found through the model's relations (forward and
reverse); a target player with rows in every admin is put in two states that differ
only in its hidden values (phone, real name, QQ, WeChat, e-mail, birthday and the keys
computed from it), chosen so that the masked display is the same in both (138****5678,
张*, ****-**-**). A pivot player's values lie between the two states, so that ordering
and comparisons tell them apart.

Every lookup on every personal field (exact, prefix, substring, regex, comparisons,
ranges, date parts, isnull) through that path, every sortable column, the search box
and every export (the admin's export URLs and its export actions over "select all")
is requested in state A and in state B; the answers (status, page text without the
CSRF token, the cells of a downloaded file) must be equal, or the request refused.
Searching by the full phone number is documented to work and is checked separately.

A user who may see personal data is run through one lookup to prove that the oracle
sees a difference where there is one (it is not vacuous).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import deque
from datetime import date

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse

from crm.privacy import PERSONAL_DATA_PERMISSION, personal_fields
from crm.tests.test_admin_changelists import make_row
from players.models import Player
from players.services.birthdays import birthday_key_apply

BACKEND = "django.contrib.auth.backends.ModelBackend"
MAX_DEPTH = 3

# Target in state A, pivot, target in state B: A < pivot < B for every field, and A and B
# look the same masked (same first and last characters, same length, same domain).
STATE_A = {
    "phone": "+8613800005678",
    "real_name": "张安",
    "qq": "100000009",
    "wechat": "wx_aaaa_z",
    "email": "a0000@example.com",
    "birthday": date(1980, 1, 1),
    "birthday_is_lunar": False,
}
PIVOT = {
    "phone": "+8613855551234",
    "real_name": "张明",
    "qq": "155555551",
    "wechat": "wx_mmmm_q",
    "email": "a5555@example.com",
    "birthday": date(1990, 6, 15),
    "birthday_is_lunar": False,
}
STATE_B = {
    "phone": "+8613899995678",
    "real_name": "张洋",
    "qq": "199999909",
    "wechat": "wx_zzzz_z",
    "email": "a9999@example.com",
    "birthday": date(2000, 12, 31),
    "birthday_is_lunar": True,
}

TEXT_LOOKUPS = [
    "exact",
    "iexact",
    "startswith",
    "istartswith",
    "contains",
    "icontains",
    "endswith",
    "regex",
    "iregex",
    "gt",
    "lt",
    "gte",
    "in",
    "range",
    "isnull",
]
DATE_LOOKUPS = ["exact", "gt", "lt", "range", "in", "year", "month", "day", "week_day", "quarter", "year__gt", "isnull"]
NUMBER_LOOKUPS = ["exact", "gt", "lt", "range", "in", "isnull"]
BOOL_LOOKUPS = ["exact", "isnull"]
# Through relations the same rule answers; a smaller set keeps the walk fast.
RELATED_LOOKUPS = {"exact", "startswith", "gt", "year"}


def lookup_value(field: str, lookup: str, a: dict, pivot: dict) -> str:
    """A value for `field__lookup` that state A matches and state B does not."""
    value, middle = a[field], pivot[field]
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):  # birthday_md
        return {"gt": str(value - 1), "lt": str(middle), "range": f"{value},{middle}"}.get(lookup, str(value))
    if isinstance(value, date):
        parts = {
            "year": value.year,
            "year__gt": value.year - 1,
            "month": value.month,
            "day": value.day,
            "week_day": value.isoweekday() % 7 + 1,
            "quarter": (value.month - 1) // 3 + 1,
            "lt": middle,
            "gt": date(value.year - 1, 1, 1),
            "range": f"{value},{middle}",
        }
        return str(parts.get(lookup, value))
    return {
        "startswith": value[: len(value) * 2 // 3],
        "istartswith": value[: len(value) * 2 // 3].upper(),
        "contains": value[1:-3],
        "icontains": value[1:-3].upper(),
        "endswith": value[-5:],
        "regex": "^" + re.escape(value[: len(value) * 2 // 3]),
        "iregex": "^" + re.escape(value[: len(value) * 2 // 3]),
        "lt": middle,
        "gt": value[:-1],
        "gte": value,
        "range": f"{value},{middle}",
        "isnull": "False",
    }.get(lookup, value)


def lookups_for(model_field, related: bool) -> list[str]:
    if isinstance(model_field, models.BooleanField):
        chosen = BOOL_LOOKUPS
    elif isinstance(model_field, models.DateField):
        chosen = DATE_LOOKUPS
    elif isinstance(model_field, models.IntegerField):
        chosen = NUMBER_LOOKUPS
    else:
        chosen = TEXT_LOOKUPS
    return [lookup for lookup in chosen if not related or lookup in RELATED_LOOKUPS]


def path_to_player(model) -> str | None:
    """The shortest lookup path from `model` to Player ("" for Player and its proxies)."""
    if issubclass(model, Player):
        return ""
    queue, seen = deque([(model, "")]), {model}
    while queue:
        current, path = queue.popleft()
        if path.count("__") + 1 > MAX_DEPTH:
            continue
        for field in current._meta.get_fields():
            related = getattr(field, "related_model", None)
            if not field.is_relation or related is None or related in seen or related._meta.app_label == "axes":
                continue
            step = f"{path}__{field.name}" if path else field.name
            if issubclass(related, Player):
                return step
            seen.add(related)
            queue.append((related, step))
    return None


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def admin_cases():
    cases = []
    for model, _model_admin in registered():
        path = path_to_player(model)
        if path is not None:
            cases.append(pytest.param(model, path, id=model._meta.label))
    return cases


def requests_for(model, path: str, model_admin) -> list[tuple[str, dict]]:
    """(what, query) pairs: every lookup on every personal field through `path`."""
    prefix = f"{path}__" if path else ""
    related = bool(path)
    queries = []
    for name in personal_fields(Player):
        if name == "birthday_md":
            state, pivot = {name: key_of(STATE_A)}, {name: key_of(PIVOT)}
        else:
            state, pivot = STATE_A, PIVOT
        for lookup in lookups_for(Player._meta.get_field(name), related):
            key = f"{prefix}{name}__{lookup}"
            queries.append((key, {key: lookup_value(name, lookup, state, pivot)}))
    return queries


def key_of(values: dict) -> int:
    player = Player(birthday=values["birthday"], birthday_is_lunar=values["birthday_is_lunar"])
    birthday_key_apply(player)
    return player.birthday_md


def search_terms() -> list[str]:
    """What a curious user types: parts of each hidden value (the full phone number is
    a documented search and is checked on its own)."""
    a = STATE_A
    return [
        a["phone"][:9],
        a["phone"][3:9],
        a["phone"][-5:],
        a["real_name"],
        a["qq"],
        a["wechat"],
        a["email"],
        a["birthday"].isoformat(),
    ]


def set_state(player, values: dict) -> None:
    for name, value in values.items():
        setattr(player, name, value)
    birthday_key_apply(player)
    Player.objects.filter(pk=player.pk).update(**values, birthday_md=player.birthday_md)


_CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*"|("csrfToken": ")[^"]*"')


def answer(response) -> tuple:
    """What the user gets back, comparable between the two states."""
    if response.status_code in (301, 302):
        return (response.status_code, response["Location"])
    if response.status_code != 200:
        return (response.status_code,)
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if "spreadsheetml" in content_type:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        return (200, tuple(tuple(row) for row in sheet.iter_rows(values_only=True)))
    return (200, _CSRF.sub(rb"\1\2", body))


def refused(result: tuple) -> bool:
    return result[0] in (400, 403, 404)


def export_urls(model, model_admin) -> list[str]:
    """The admin's own export views (URL names with "export", no arguments)."""
    urls = []
    own = f"{model._meta.app_label}_{model._meta.model_name}_"
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None) or ""
        if "export" in name.removeprefix(own) or name == f"{own}export":
            try:
                urls.append(reverse(f"admin:{name}"))
            except NoReverseMatch:
                continue
    return urls


def export_actions(model_admin) -> list[str]:
    return [name for name in model_admin.actions or [] if isinstance(name, str) and "export" in name]


@pytest.fixture
def masked_user(db):
    """Sees everything in the admin but personal data."""
    user = get_user_model().objects.create_user(username="masked", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(codename=PERSONAL_DATA_PERMISSION.split(".")[1]))
    return user


@pytest.fixture
def target(db, masked_user):
    """The target player in state A and the pivot player, both at risk and with a tier (so
    on the at-risk worklist too)."""
    from players.models import PayerStatus
    from vip.models import Tier

    tier = Tier.objects.order_by("level").first() or make_row(Tier, {})
    common = {"server": "s1", "manager": masked_user, "tier": tier, "payer_status": PayerStatus.AT_RISK}
    target = Player.objects.create(account_id="target", nickname="目标", **common)
    pivot = Player.objects.create(account_id="pivot", nickname="参照", **common)
    set_state(target, STATE_A)
    set_state(pivot, PIVOT)
    return target


@pytest.fixture
def world(target, masked_user):
    """The target and the pivot, each with a row in every admin's model."""
    for player in Player.objects.filter(account_id__in=["target", "pivot"]):
        made = {Player: player, get_user_model(): masked_user}
        for model, _model_admin in registered():
            if model._meta.app_label in {"players", "vip", "campaigns", "crm"} and not issubclass(model, Player):
                # a model the generic factory cannot build gets no row (and is still walked)
                with contextlib.suppress(Exception):
                    make_row(model, made)
    return target


class Walk:
    """Requests in state A, then the same requests in state B; counts what differs."""

    def __init__(self, client):
        self.client = client
        self.plan: list[tuple[str, str, str, dict, dict]] = []  # (what, method, url, params, data)

    def add(self, what, url, params=None, data=None):
        self.plan.append((what, "post" if data else "get", url, params or {}, data or {}))

    def _run(self, only=None):
        results = {}
        for index, (_what, method, url, params, data) in enumerate(self.plan):
            if only is not None and index not in only:
                continue
            if method == "get":
                results[index] = answer(self.client.get(url, params))
            else:
                query = "&".join(f"{k}={v}" for k, v in params.items())
                results[index] = answer(self.client.post(f"{url}?{query}" if query else url, data))
        return results

    def leaks(self, target) -> tuple[int, list[str]]:
        first = self._run()
        open_ = {index for index, result in first.items() if not refused(result)}
        set_state(target, STATE_B)
        second = self._run(only=open_)
        set_state(target, STATE_A)
        leaked = [self.plan[index][0] for index in sorted(open_) if second[index] != first[index]]
        return len(self.plan), leaked


def _names(paths) -> set[str]:
    return {part for path in paths for part in str(path).lstrip("^=@-").split("__")}


def plan_for(walk: Walk, model, path: str, model_admin, user):
    """Every lookup through `path`; ordering by any column and the search box where they
    can reach a personal field (by name); every export with every lookup."""
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    hidden = set(personal_fields(Player))
    queries = requests_for(model, path, model_admin)
    for what, query in queries:
        walk.add(f"{changelist}?{what}", changelist, query)
    request = type("Request", (), {"user": user, "GET": {}})()
    for index, column in enumerate(model_admin.get_list_display(request)):
        order = column if isinstance(column, str) else None
        order = getattr(getattr(model_admin, order, None) if order else column, "admin_order_field", order)
        if order and _names([order]) & hidden:
            walk.add(f"{changelist}?o={index}", changelist, {"o": str(index)})
    if issubclass(model, Player) or _names(model_admin.search_fields or ()) & hidden:
        for term in search_terms():
            walk.add(f"{changelist}?q={term}", changelist, {"q": term})
    for url in export_urls(model, model_admin):
        walk.add(f"{url}?_format=xlsx", url, {"_format": "xlsx"})  # both formats filter alike
        walk.add(f"{url}?_format=csv", url, {"_format": "csv"})
        for what, query in queries:
            walk.add(f"{url}?{what}&_format=csv", url, {**query, "_format": "csv"})
    for action in export_actions(model_admin):
        for what, query in queries:
            walk.add(
                f"{changelist} action {action}?{what}",
                changelist,
                query,
                {"action": action, "select_across": "1", "index": "0", ACTION_CHECKBOX_NAME: ["0"]},
            )


def test_no_admin_answer_depends_on_a_hidden_personal_value(world, masked_user):
    client = Client(raise_request_exception=False)
    client.force_login(masked_user, backend=BACKEND)
    figures, leaks = [], []
    for case in admin_cases():
        model, path = case.values
        walk = Walk(client)
        plan_for(walk, model, path, admin.site._registry[model], masked_user)
        tried, leaked = walk.leaks(world)
        figures.append((model._meta.label, path, tried, len(leaked)))
        leaks += [f"{model._meta.label}: {what}" for what in leaked]

    summary = ", ".join(f"{label} {tried}/{n}" for label, _path, tried, n in figures)
    print(  # noqa: T201 (the figures of the walk, shown with -s or -rP)
        f"oracle: {len(figures)} admins, {sum(f[2] for f in figures)} requests, {len(leaks)} leaks; {summary}"
    )
    assert len(figures) >= 15
    assert not leaks, f"{len(leaks)} answers depend on a hidden value: {leaks[:20]}"


def test_the_walk_covers_every_admin_over_player_data():
    """Every admin whose model reaches a player within three relations is walked; the
    player lists themselves with the full set of lookups."""
    labels = {case.id for case in admin_cases()}

    assert {"players.Player", "players.AtRiskPlayer", "players.Payment", "players.ContactLog"} <= labels
    assert {"players.Case", "players.FeedbackReport", "players.FeedbackTopic", "campaigns.GiftEntry"} <= labels
    assert {"campaigns.Message", "campaigns.OutreachTask", "vip.TierChange", "vip.ManagerAssignment"} <= labels


def test_the_oracle_sees_a_difference_where_one_is_allowed(target, make_staff):
    """For a supervisor (who may see personal data) a phone prefix filter does depend on
    the phone: the same walk reports it, so an empty report above means something."""
    supervisor = make_staff("sees_all", "Supervisor")
    client = Client()
    client.force_login(supervisor, backend=BACKEND)
    walk = Walk(client)
    changelist = reverse("admin:players_player_changelist")
    walk.add("phone__startswith", changelist, {"phone__startswith": STATE_A["phone"][:9]})

    _tried, leaked = walk.leaks(target)

    assert leaked == ["phone__startswith"]


def test_search_by_the_full_phone_number_still_finds_the_player(target, masked_user):
    """Documented: staff without the permission still find a player by the full phone
    number (and see it masked), in E.164 or as dialled."""
    client = Client()
    client.force_login(masked_user, backend=BACKEND)
    changelist = reverse("admin:players_player_changelist")

    for term in (STATE_A["phone"], STATE_A["phone"][3:]):
        page = client.get(changelist, {"q": term})
        rows = page.context["cl"].result_list
        assert [p.account_id for p in rows] == ["target"], term
        rows_html = page.content.decode().partition("<tbody>")[2].partition("</tbody>")[0]
        results = re.sub(r"<[^>]+>", " ", rows_html)  # what the eye reads, not the links' query
        assert "138****5678" in results and STATE_A["phone"][3:] not in results


def test_a_refused_filter_answers_400_and_the_export_writes_nothing(target, masked_user):
    from players.models import ExportRecord

    client = Client()
    client.force_login(masked_user, backend=BACKEND)
    records = ExportRecord.objects.count()

    listed = client.get(reverse("admin:players_player_changelist"), {"phone__startswith": "+86138"})
    exported = client.get(reverse("admin:players_player_export"), {"birthday__year": "1980", "_format": "csv"})

    assert listed.status_code == 400
    assert exported.status_code == 400
    assert ExportRecord.objects.count() == records
