"""The top-spender programme's screens (campaigns.services.top_spenders): the segment "top N
by spend in a period, per server" with booking its return-visit calls, and the year-end spend
summary per player for the annual gift list (CSV/XLSX, personal data masked without the
permission, every export logged)."""

from __future__ import annotations

import csv
import tempfile
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from campaigns.services.top_spenders import (
    GROUPINGS,
    gift_proposals,
    half_month_before,
    key_customers,
    top_spender_visits_create,
    top_spenders,
    year_spend_built_at,
    year_spend_summary,
)
from crm.cells import cells_neutralise
from crm.formatting import money, when
from crm.names import staff_name
from crm.privacy import can_view_personal_data, masked
from crm.widgets import DatePicker
from players.models import Player
from players.selectors import players_visible_to, sees_all_players
from players.services.exports import export_record_create

VIEW_PERMISSION = "players.view_player"
BOOK_PERMISSION = "campaigns.add_outreachtask"


class TopSpendersForm(forms.Form):
    # the period's words (起始日期 / 截止日期), not a status change's "from"/"to"
    start = forms.DateField(label=pgettext_lazy("report period", "from"), widget=DatePicker())
    end = forms.DateField(label=pgettext_lazy("report period", "to"), widget=DatePicker())
    top = forms.IntegerField(label=gettext_lazy("top"), min_value=1, max_value=100, initial=3)
    per = forms.ChoiceField(
        label=gettext_lazy("ranked"),
        choices=[("server", gettext_lazy("per server")), ("all", gettext_lazy("across all servers"))],
        initial="server",
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end comes before the start."))
            elif (end - start).days >= 366:
                self.add_error("end", _("At most a year at a time."))
        return data


def _needs(request, permission):
    if not request.user.has_perm(permission):
        raise PermissionDenied


def top_spenders_view(request):
    """The segment: who spent most in the period, per server, with the gift each would be
    proposed; a VIP manager sees their own players among them, a supervisor everyone and
    may book the calls (the same as the scheduled run on the 1st and 16th)."""
    _needs(request, VIEW_PERMISSION)
    start, end = half_month_before(timezone.localdate())
    form = TopSpendersForm(request.GET or {"start": start, "end": end, "top": 3, "per": "server"})
    rows = key_rows = None
    if form.is_valid():
        data = form.cleaned_data
        visible = None if sees_all_players(request.user) else players_visible_to(request.user)
        ranked = top_spenders(start=data["start"], end=data["end"], n=data["top"], per=data["per"])
        rows = ranked
        if visible is not None:
            mine = set(visible.filter(pk__in=[t.player_id for t in ranked]).values_list("pk", flat=True))
            rows = [t for t in ranked if t.player_id in mine]
        # the key customers beyond the ranked get the booked call too
        key_rows = key_customers(
            start=data["start"], end=data["end"], exclude={t.player_id for t in ranked}, players=visible
        )
        gift_proposals(rows + key_rows, on=timezone.localdate())
        for row in rows + key_rows:
            row.spend_text, row.gift_text = money(row.spend), money(row.gift) if row.gift else "-"
    may_book = sees_all_players(request.user) and request.user.has_perm(BOOK_PERMISSION)
    context = {
        **admin.site.each_context(request),
        "title": _("Top spenders"),
        "form": form,
        "rows": rows,
        "key_rows": key_rows,
        "key_tag": settings.CRM_KEY_CUSTOMER_TAG,
        "key_tier": settings.CRM_KEY_CUSTOMER_MIN_TIER,
        "may_book": may_book,
        "book_day": timezone.localdate(),
        "next_half_start": half_month_before(timezone.localdate())[0],
        "groupings": GROUPINGS,
    }
    return render(request, "admin/workplace/top_spenders.html", context)


@require_POST
def top_spenders_book(request):
    """Book the return-visit calls for the half month before today (what the schedule does)."""
    _needs(request, BOOK_PERMISSION)
    if not sees_all_players(request.user):
        raise PermissionDenied
    start, end, spenders, created = top_spender_visits_create(actor=request.user)
    messages.success(
        request,
        _("%(created)d return-visit calls booked for %(start)s – %(end)s (%(ranked)d top spenders and key customers).")
        % {"created": created, "start": start.isoformat(), "end": end.isoformat(), "ranked": len(spenders)},
    )
    if created < len(spenders):
        messages.info(request, _("Players already booked for this half month were left as they are."))
    return redirect(reverse("workplace:top_spenders"))


# --- the year-end spend summary -------------------------------------------------------------------
class YearForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("year"), min_value=2000, max_value=2100)
    min_spend = forms.DecimalField(
        label=gettext_lazy("minimum spend"), min_value=0, max_digits=14, decimal_places=2, required=False
    )


def _summary_columns(personal: bool) -> list[str]:
    columns = [
        _("rank"),
        _("account id"),
        _("nickname"),
        _("server"),
        _("VIP tier"),
        _("VIP manager"),
        _("real name"),
        _("phone"),
        _("spend in the year"),
        _("purchases"),
        _("last paid"),
    ]
    return columns


def _summary_rows(summary, *, personal: bool, offset: int = 0, for_file: bool = False):
    """Rows of the summary joined with their players (one query per 2,000 rows)."""
    chunk = []
    rank = offset

    def flush(items):
        players = Player.objects.select_related("tier", "manager").in_bulk([r["player_id"] for r in items])
        for r in items:
            nonlocal rank
            rank += 1
            p = players[r["player_id"]]
            real_name = p.real_name if personal else masked("real_name", p.real_name) if p.real_name else ""
            phone = str(p.phone or "") if personal else masked("phone", p.phone) if p.phone else ""
            yield [
                rank,
                p.account_id,
                p.nickname,
                p.server,
                p.tier.name if p.tier else "",
                staff_name(p.manager) if p.manager else "",
                real_name,
                phone,
                Decimal(r["spend"]).quantize(Decimal("0.01")) if for_file else money(r["spend"]),
                r["purchases"],
                timezone.localtime(r["last_paid_at"]).replace(tzinfo=None)
                if for_file and r["last_paid_at"]
                else when(r["last_paid_at"]),
            ]

    for r in summary:
        chunk.append(r)
        if len(chunk) >= 2000:
            yield from flush(chunk)
            chunk = []
    if chunk:
        yield from flush(chunk)


PAGE = 100


class _Echo:
    def write(self, value):
        return value


def year_spend_view(request):
    """Spend per player in a calendar year, highest first, for the annual gift list; a VIP
    manager sees their own players. Personal data is masked without the permission, in
    the screen and in the files; every download is recorded (Exports)."""
    _needs(request, VIEW_PERMISSION)
    this_year = timezone.localdate().year
    form = YearForm(request.GET or {"year": this_year})
    page = None
    personal = can_view_personal_data(request.user)
    if form.is_valid():
        year = form.cleaned_data["year"]
        min_spend = form.cleaned_data["min_spend"] or Decimal(0)
        visible = None if sees_all_players(request.user) else players_visible_to(request.user)
        fmt = request.GET.get("format")
        if fmt in ("csv", "xlsx"):
            rows, total = year_spend_summary(year=year, min_spend=min_spend, players=visible)
            try:
                _record, personal = export_record_create(
                    user=request.user,
                    count=total,
                    fmt=fmt,
                    filters=_("year-end spend summary %(year)s, minimum spend %(min)s")
                    % {"year": year, "min": money(min_spend)},
                )
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(reverse("workplace:year_spend") + f"?year={year}")
            return _summary_file(rows, year=year, fmt=fmt, personal=personal)
        try:
            number = max(1, int(request.GET.get("page") or 1))
        except ValueError:
            number = 1
        rows, total = year_spend_summary(
            year=year, min_spend=min_spend, players=visible, offset=(number - 1) * PAGE, limit=PAGE
        )
        pages = max(1, -(-total // PAGE))
        page = {
            "rows": list(_summary_rows(rows, personal=personal, offset=(number - 1) * PAGE)),
            "number": number,
            "pages": pages,
            "total": total,
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if number < pages else None,
            "built_at": when(year_spend_built_at(year)),
        }
    context = {
        **admin.site.each_context(request),
        "title": _("Year-end spend summary"),
        "form": form,
        "page": page,
        "columns": _summary_columns(personal),
        "personal": personal,
        "query": request.GET.copy(),
    }
    return render(request, "admin/workplace/year_spend.html", context)


def _summary_file(summary, *, year: int, fmt: str, personal: bool):
    columns = _summary_columns(personal)
    language = translation.get_language()
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(str(year))
        sheet.append(columns)
        for row in _summary_rows(summary, personal=personal, for_file=True):
            sheet.append(cells_neutralise(row))
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
        book.save(handle)
        handle.seek(0)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"year-spend-{year}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    writer = csv.writer(_Echo())

    def stream():
        with translation.override(language):
            yield "\ufeff" + writer.writerow(columns)
            for row in _summary_rows(summary, personal=personal, for_file=True):
                yield writer.writerow(cells_neutralise(row))

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="year-spend-{year}.csv"'
    return response
