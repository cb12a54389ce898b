"""The scope harness: a VIP manager sees nothing of another manager's players, through any
admin door.

Manager A and manager B each have a player with a record of every kind attached (payments,
tier changes, an assignment, contacts, a case with its events, feedback, gifts, messages,
tasks, a greeting, payer-status history, a campaign target, an export record). Every text of
B's records carries the marker ``zqxb`` (A's: ``zqxa``), B's player's phone is a number seen
nowhere else.

The URLs are generated from the URL resolver, not from a hand-kept list: every pattern under
/admin/ is filled in with the ids of B's records (and A's, as the control), and every
changelist is also asked with filters and a search that point at B's records, every add form
with ``?<foreign key>=<B's record>``, every autocomplete with B's account id, every list and
report with the CSV/XLSX switches, and every action of every changelist is posted with B's
record selected. A's responses (followed through redirects, files opened) must not contain
B's markers, and B's records must be unchanged afterwards. A pattern whose parameters the
harness cannot fill fails the test, so a new URL cannot slip past it.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote_plus, urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from campaigns.models import CampaignTarget, Greeting, GreetingStatus, Message, OutreachTask
from campaigns.services.gifts import gift_record
from players.models import ExportRecord, FeedbackReport, FeedbackTopic, PayerStatusChange, Player
from players.services import contact_log_create
from players.services.cases import case_add_note, case_open
from players.services.feedback import feedback_record
from vip.models import Tier
from vip.services import players_assign_manager, tier_pin

PHONE_B = "+8613957246813"
# What of B's player a manager A must never read: the marker in every text, the phone in
# every form it may be shown in.
B_SECRETS = ("zqxb", "13957246813", "139****6813", "139 5724 6813", "3141592653")
A_MARKER = "zqxa"


@dataclass
class Book:
    """One manager's player with a record of every kind: {model class: [pk, ...]}."""

    manager: object
    player: Player
    records: dict = field(default_factory=dict)

    def add(self, obj):
        self.records.setdefault(type(obj), []).append(obj.pk)
        return obj


def _book(manager, supervisor, pay, tag: str, phone: str, rule, campaign) -> Book:
    now = timezone.now()
    today = timezone.localdate()
    player = Player.objects.create(
        account_id=f"{tag}-acct",
        nickname=f"{tag}昵称",
        server="s1",
        phone=phone,
        real_name=f"{tag}真名",
        qq="2718281828" if tag == A_MARKER else "3141592653",
        wechat=f"{tag}wx",
        email=f"{tag}@example.com",
        notes=f"{tag} 备注",
    )
    book = Book(manager=manager, player=player)
    book.add(player)
    players_assign_manager(
        players=Player.objects.filter(pk=player.pk), manager=manager, actor=supervisor, note=f"{tag} 分配"
    )
    player.refresh_from_db()
    book.add(pay(player, "6480.00", product=f"{tag}-product", event_id=f"{tag}-evt-1").payment)
    book.add(pay(player, "48.00", kind="refund", event_id=f"{tag}-evt-2").payment)
    player.refresh_from_db()
    tier_pin(
        player=player,
        tier=Tier.objects.order_by("level").last(),
        actor=supervisor,
        reason=f"{tag} 锁定原因",
        expires_at=now + timedelta(days=30),
    )
    book.add(
        contact_log_create(
            player=player,
            staff=manager,
            channel="phone",
            topic=f"{tag} 回访话题",
            summary=f"{tag} 回访内容",
            next_follow_up=today,
        )
    )
    case = book.add(
        case_open(
            player=player,
            category="complaint",
            subject=f"{tag} 工单主题",
            description=f"{tag} 工单描述",
            owner=manager,
            actor=manager,
        )
    )
    case_add_note(case=case, text=f"{tag} 工单备注", actor=manager)
    book.add(feedback_record(player=player, text=f"{tag} 反馈 登录闪退", case=case, actor=manager))
    book.add(
        gift_record(
            player=player, kind="item", value=Decimal("10"), item=f"{tag}-gift", reason=f"{tag} 送礼原因", actor=manager
        )
    )
    message = book.add(
        Message.objects.create(
            player=player,
            channel="sms",
            subject=f"{tag} 主题",
            body=f"{tag} 短信",
            scheduled_for=now + timedelta(hours=1),
        )
    )
    task = book.add(
        OutreachTask.objects.create(
            player=player,
            assignee=manager,
            title=f"{tag} 任务",
            script=f"{tag} 话术",
            note=f"{tag} 任务备注",
            due_date=today,
        )
    )
    book.add(
        Greeting.objects.create(
            rule=rule,
            player=player,
            occasion_date=today,
            status=GreetingStatus.DONE,
            task=task,
            message=message,
            note=f"{tag} 祝福",
        )
    )
    book.add(
        PayerStatusChange.objects.create(
            player=player, from_status="active", to_status="at_risk", changed_at=now, trigger="scan", risk_score=60
        )
    )
    Player.objects.filter(pk=player.pk).update(payer_status="at_risk")
    book.add(CampaignTarget.objects.create(campaign=campaign, player=player, reference_at=now))
    book.add(ExportRecord.objects.create(user=manager, format="csv", row_count=1, filters=f"q={tag}-acct"))
    # the rows that hang off the player: their admins are registered under other models
    for model in apps.get_models():
        for fk in model._meta.get_fields():
            if fk.many_to_one and fk.concrete and fk.related_model is Player:
                for pk in model._default_manager.filter(**{fk.name: player}).values_list("pk", flat=True):
                    if pk not in book.records.get(model, []):
                        book.records.setdefault(model, []).append(pk)
    for case_event in case.events.all():
        book.add(case_event)
    for topic_pk in FeedbackReport.objects.filter(player=player).values_list("topic", flat=True):
        book.records.setdefault(FeedbackTopic, []).append(topic_pk)
    return book


@pytest.fixture
def world(manager, other_manager, supervisor, pay, tiers, make_rule, make_campaign):
    rule = make_rule(name="生日问候", occasion="birthday", task_lead_days=1)
    campaign = make_campaign(name="召回活动")
    mine = _book(manager, supervisor, pay, A_MARKER, "+8613811110000", rule, campaign)
    theirs = _book(other_manager, supervisor, pay, "zqxb", PHONE_B, rule, campaign)
    return mine, theirs


# --- the URLs, from the resolver -------------------------------------------------------------
@dataclass
class Pattern:
    name: str  # "admin:players_player_change", or "" for an unnamed pattern
    route: list  # the pattern's pieces from the root, each a RoutePattern or RegexPattern
    kwargs: tuple  # the names the pattern takes
    model_admin: object | None
    callback: object

    def url(self, values: dict) -> str:
        parts = []
        for piece in self.route:
            text = str(piece)
            if isinstance(piece, RoutePattern):  # a route: <int:pk>/do/<str:action>/
                text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), text)
            else:  # a regex: ^(?P<app_label>auth|players)/$
                text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), text)
                text = text.lstrip("^").rstrip("$").replace("\\", "")
            parts.append(text)
        return "/" + "".join(parts)


def _walk(entries, route=(), namespace=""):
    for entry in entries:
        if isinstance(entry, URLResolver):
            space = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, (*route, entry.pattern), space)
        elif isinstance(entry, URLPattern):
            yield entry, (*route, entry.pattern), namespace


def admin_patterns() -> list[Pattern]:
    found = []
    for entry, route, namespace in _walk(get_resolver().url_patterns):
        if not str(route[0]).startswith("admin/"):
            continue
        names = []
        for piece in route:
            names += list(getattr(piece, "converters", {})) or list(piece.regex.groupindex)
        callback = entry.callback
        model_admin = getattr(callback, "model_admin", None)
        if model_admin is None:
            model_admin = getattr(inspect.unwrap(callback), "__self__", None)
            if not isinstance(model_admin, admin.ModelAdmin):
                model_admin = None
        found.append(
            Pattern(
                name=f"{namespace}{entry.name}" if entry.name else "",
                route=list(route),
                kwargs=tuple(dict.fromkeys(names)),
                model_admin=model_admin,
                callback=callback,
            )
        )
    return found


# --- what A asks ------------------------------------------------------------------------------
@dataclass
class Walk:
    client: Client
    theirs: Book
    mine: Book
    requests: int = 0
    leaks: list = field(default_factory=list)
    mine_seen: int = 0
    statuses: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def body(self, response) -> str:
        if getattr(response, "streaming", False):
            data = b"".join(response.streaming_content)
        else:
            data = response.content
        kind = response.get("Content-Type", "")
        if "spreadsheetml" in kind:
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True)
            return "\n".join(
                " ".join(str(c) for c in row if c is not None)
                for sheet in book.worksheets
                for row in sheet.iter_rows(values_only=True)
            )
        return data.decode("utf-8", "replace")

    def check(self, method, url, data=None, echo=()):
        self.requests += 1
        if method == "get":
            response = self.client.get(url, follow=True)
        else:
            response = self.client.post(url, data or {}, follow=True)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            self.errors.append((method.upper(), url, response.status_code))
        text = self.body(response)
        if echo:  # what A typed comes back in the search box and in the links' query: not a leak
            text = re.sub(r'<input[^>]*name="q"[^>]*>', "", text)
            text = re.sub(r"_changelist_filters=[^\"\s]*", "", text)
            for term in echo:
                text = text.replace(f"q={quote_plus(term)}", "")
        for secret in B_SECRETS:
            if secret in text:
                at = text.index(secret)
                self.leaks.append((method.upper(), url, secret, " ".join(text[max(0, at - 80) : at + 60].split())))
        self.mine_seen += A_MARKER in text
        return response


def _values(kwarg: str, pattern: Pattern, book: Book, world_books) -> list[dict]:
    """The values to fill one parameter with, for B's records (the leak candidates)."""
    model = pattern.model_admin.model if pattern.model_admin else None
    if kwarg in ("object_id", "pk"):
        if model is None:  # the workplace's player pages
            model = Player
        concrete = model._meta.concrete_model
        return [str(pk) for pk in book.records.get(concrete, [])] or ["999999"]
    if kwarg == "version_id":
        history = getattr(model, "history", None)
        if history is None:
            return ["1"]
        return [
            str(h)
            for h in model.history.model.objects.filter(id__in=book.records.get(model, [])).values_list(
                "history_id", flat=True
            )
        ] or ["1"]
    if kwarg == "action":
        from players.admin.service_records import CASE_ACTIONS

        return list(CASE_ACTIONS)
    if kwarg == "app_label":
        return sorted({m._meta.app_label for m in admin.site._registry})
    if kwarg == "content_type_id":
        return [str(ContentType.objects.get_for_model(m).pk) for m in book.records]
    if kwarg == "kind":
        return ["players", "payments"]
    if kwarg == "language":
        return ["zh"]
    if kwarg == "fmt":
        return ["csv", "xlsx"]
    if kwarg == "period":  # the weekly and monthly work reports
        return ["week", "month"]
    if kwarg == "decision":  # a compensation proposal's approval queue
        return ["approve", "refuse"]
    if kwarg == "id":  # auth's password change: B the person
        return [str(book.manager.pk)]
    if kwarg == "url":  # the admin's catch-all
        return ["nowhere/"]
    raise AssertionError(f"the scope harness does not know how to fill <{kwarg}> of {pattern.name}: teach it")


def _urls(pattern: Pattern, book: Book, world_books) -> list[str]:
    if not pattern.kwargs:
        return [pattern.url({})]
    if set(pattern.kwargs) == {"content_type_id", "object_id"}:  # admin/r/<ct>/<id>/
        return [
            pattern.url({"content_type_id": ContentType.objects.get_for_model(m).pk, "object_id": pk})
            for m, pks in book.records.items()
            for pk in pks
        ]
    combos = [{}]
    for kwarg in pattern.kwargs:
        combos = [{**c, kwarg: v} for c in combos for v in _values(kwarg, pattern, book, world_books)]
    if "version_id" in pattern.kwargs:
        combos = combos[:20]
    urls = [pattern.url(c) for c in combos]
    for url in urls:  # the harness builds what the resolver serves
        assert resolve(url).func is pattern.callback, (url, pattern.name)
    return urls


def _related_filters(model, book: Book) -> list[tuple[str, str]]:
    """(parameter, value) pairs that point a list or an add form at B's records."""
    pairs = []
    for f in model._meta.get_fields():
        if (f.many_to_one or f.one_to_one) and f.concrete and f.related_model in book.records:
            for pk in book.records[f.related_model][:2]:
                pairs.append((f.name, str(pk)))
    return pairs


def _record_digest(book: Book) -> str:
    rows = []
    for model, pks in sorted(book.records.items(), key=lambda item: item[0]._meta.label):
        rows.append(repr(list(model._default_manager.filter(pk__in=pks).order_by("pk").values())))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def scope_walk(client, mine: Book, theirs: Book) -> tuple[Walk, int]:
    walk = Walk(client=client, theirs=theirs, mine=mine)
    patterns = admin_patterns()
    for pattern in patterns:
        if pattern.name in ("admin:logout",):  # ends the walk's session
            continue
        for book in (theirs, mine):
            for url in _urls(pattern, book, (mine, theirs)):
                walk.check("get", url)
                if pattern.name.endswith("_changelist") and book is theirs:
                    model = pattern.model_admin.model
                    for name, value in _related_filters(model, theirs):
                        walk.check("get", f"{url}?{name}__id__exact={value}")
                        walk.check("get", f"{url}?{name}={value}")
                    walk.check(
                        "get",
                        f"{url}?_popup=1&_to_field=id&q={quote_plus(theirs.player.account_id)}",
                        echo=[theirs.player.account_id],
                    )
                    walk.check(
                        "get", f"{url}?q={quote_plus(theirs.player.account_id)}", echo=[theirs.player.account_id]
                    )
                    walk.check("get", f"{url}?q={quote_plus(PHONE_B)}", echo=[PHONE_B])
                    walk.check("get", f"{url}?q={quote_plus(B_SECRETS[0])}", echo=[B_SECRETS[0]])
                    for switch in ("format=csv", "_format=csv", "_format=xlsx", "_facets=1"):
                        walk.check("get", f"{url}?{switch}")
                    _post_actions(walk, pattern.model_admin, url)
                if pattern.name.endswith("_add") and book is theirs:
                    for name, value in _related_filters(pattern.model_admin.model, theirs):
                        walk.check("get", f"{url}?{name}={value}")
                if not pattern.kwargs and book is theirs and not pattern.name.endswith(("_changelist", "_add")):
                    for switch in (
                        "format=csv",
                        "_format=csv",
                        "_format=xlsx",
                        f"q={quote_plus(theirs.player.account_id)}",
                    ):
                        walk.check("get", f"{url}?{switch}", echo=[theirs.player.account_id])
            if not pattern.kwargs:
                break  # the same URL for both books
    # autocomplete, for every admin that offers it
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.autocomplete_fields:
            base = reverse("admin:autocomplete")
            query = {"app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": name}
            for term in ("", theirs.player.account_id, "zqxb", PHONE_B):
                walk.check("get", f"{base}?{urlencode({**query, 'term': term})}")
    return walk, len(patterns)


def _post_actions(walk: Walk, model_admin, url: str):
    request = type("R", (), {})()
    request.user = walk.client.user
    request.GET = {}
    request.method = "POST"
    request.POST = {}
    actions = model_admin.get_actions(request)
    model = model_admin.model._meta.concrete_model
    for name in actions:
        for pk in walk.theirs.records.get(model, []):
            walk.check(
                "post", url, {"action": name, ACTION_CHECKBOX_NAME: [str(pk)], "index": "0", "select_across": "0"}
            )
            walk.check(
                "post",
                url,
                {"action": name, ACTION_CHECKBOX_NAME: [str(pk)], "index": "0", "select_across": "0", "apply": "1"},
            )


def test_a_manager_sees_nothing_of_another_managers_player_through_any_admin_url(world, capsys):
    mine, theirs = world
    client = Client(raise_request_exception=False)
    client.force_login(mine.manager)
    client.user = mine.manager
    before = _record_digest(theirs)

    walk, patterns = scope_walk(client, mine, theirs)

    with capsys.disabled():
        print(
            f"\nscope harness: {patterns} admin URL patterns, {walk.requests} requests as manager A, "
            f"statuses {dict(sorted(walk.statuses.items()))}, {len(walk.leaks)} leaks"
        )
        for leak in walk.leaks[:80]:
            print("  LEAK", *leak)
        for error in walk.errors:
            print("  ERROR", *error)
    assert not walk.errors, f"answers 5xx: {walk.errors}"
    assert not walk.leaks, f"{len(walk.leaks)} responses to manager A show B's player: {walk.leaks[:10]}"
    assert _record_digest(theirs) == before, "manager A changed B's player's records"
    # the control: A's own records are reachable through the same doors
    assert walk.mine_seen >= 50, walk.mine_seen


# --- the defects the walk found, one by one ----------------------------------------------------
def _as(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_shared_feedback_topic_shows_a_manager_only_their_players_reports(world):
    mine, theirs = world
    # B's player reported first, with a phone number; A's player says the same later
    first = feedback_record(player=theirs.player, text="充值 13957246813 没到账 zqxb")
    feedback_record(player=mine.player, text="充值 13811110000 没到账 zqxb")
    topic = first.topic
    client = _as(mine.manager)

    page = client.get(f"/admin/players/feedbacktopic/{topic.pk}/change/").content.decode()
    listing = client.get("/admin/players/feedbacktopic/").content.decode()

    assert mine.player.account_id in page and theirs.player.account_id not in page
    for text in (page, listing):
        assert "13957246813" not in text  # the title (B's player's words) is shown with numbers masked
    assert "139****6813" in listing
    # searching the title's hidden number finds nothing; searching A's own words finds the topic
    assert client.get("/admin/players/feedbacktopic/", {"q": "13957246813"}).context["cl"].result_count == 0
    assert client.get("/admin/players/feedbacktopic/", {"q": "13811110000"}).context["cl"].result_count == 1


def test_a_manager_cannot_file_feedback_on_another_managers_case(world):
    mine, theirs = world
    case = theirs.player.cases.get()
    before = FeedbackReport.objects.filter(case=case).count()
    response = _as(mine.manager).post(
        "/admin/players/feedbackreport/add/",
        {"player": mine.player.pk, "kind": "bug", "channel": "in_game", "text": "登录闪退", "case": case.pk},
    )
    assert response.status_code == 200 and "case" in response.context["adminform"].form.errors
    assert FeedbackReport.objects.filter(case=case).count() == before


def test_add_forms_do_not_read_another_managers_player(world):
    mine, theirs = world
    Player.objects.filter(pk=theirs.player.pk).update(preferred_channel="email")
    client = _as(mine.manager)

    case_form = client.get("/admin/players/case/add/", {"player": theirs.player.pk}).context["adminform"].form
    contact_form = client.get("/admin/players/contactlog/add/", {"player": theirs.player.pk}).context["adminform"].form

    assert case_form.initial["owner"] == mine.manager.pk  # not B, the player's manager
    assert contact_form.initial.get("channel") != "email"  # not B's player's preferred channel
