"""Admin for payer churn: the rules, the at-risk worklist, the status history and
the churn report (an admin view with CSV export and a chart)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm.admin_columns import player_column, short_time, truncated_lines
from crm.admin_readonly import ReadOnlyAdminMixin
from crm.cells import csv_writer
from crm.formatting import money, when
from players.admin.scoping import PlayerScopedAdminMixin

from ..churn_reasons import reason_choices, reason_label
from ..models import PayerStatus
from ..models.payer_status import RISK_BANDS, AtRiskPlayer, ChurnRule, PayerStatusChange, RiskBand
from ..selectors.payer_status import (
    at_risk_vips,
    churn_reason_q,
    churn_report,
    churn_report_rows,
    revenue_at_risk,
    risk_band_q,
)

REPORT_PERMISSION = "players.view_churn_report"


class RiskBandFilter(admin.SimpleListFilter):
    title = _("churn risk")
    parameter_name = "risk"
    path = "churn__"

    def lookups(self, request, model_admin):
        return RiskBand.choices

    def queryset(self, request, queryset):
        if self.value() in RISK_BANDS:
            return queryset.filter(risk_band_q(self.value(), self.path))
        return queryset


class ChurnReasonFilter(admin.SimpleListFilter):
    """One choice per registered churn reason (players.churn_reasons)."""

    title = _("churn reason")
    parameter_name = "reason"
    path = "churn__"

    def lookups(self, request, model_admin):
        return reason_choices()

    def queryset(self, request, queryset):
        if self.value() in {code for code, _label in reason_choices()}:
            return queryset.filter(churn_reason_q(self.value(), self.path))
        return queryset


class HistoryReasonFilter(ChurnReasonFilter):
    path = ""


def risk_badge(score: int | None):
    if score is None:
        return "-"
    colour = "#c62828" if score >= 70 else "#ef6c00" if score >= 40 else "#9e9d24" if score else "#9e9e9e"
    return format_html('<span class="vip-badge" style="background:{}">{}</span>', colour, score)


def reasons_text(reasons) -> str:
    return ", ".join(str(reason_label(code)) for code in reasons) or "-"


@admin.register(ChurnRule)
class ChurnRuleAdmin(admin.ModelAdmin):
    """One global row (seeded with the documented defaults) and optional rows per
    tier; a tier row's empty fields take the global value."""

    list_display = ["__str__", *ChurnRule.RULE_FIELDS, "updated_at"]
    list_select_related = ["tier"]
    fieldsets = [
        (None, {"fields": ["tier"]}),
        (_("Churned"), {"fields": ["churn_after_days"]}),
        (
            _("At risk when any of these applies"),
            {"fields": ["gap_multiplier", "min_gap_days", "spend_window_days", "spend_drop_ratio", "no_login_days"]},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["tier"] if obj is not None and obj.is_global else []

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_global:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(AtRiskPlayer)
class AtRiskPlayerAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """The worklist: at-risk VIPs a manager may see (their own; all with
    players.view_all_players), highest risk × lifetime spend first."""

    player_path = ""
    list_display = [
        player_column("", _("player"), link=True),  # nickname over account id (crm.admin_columns)
        "tier_badge",
        "manager",
        "risk",
        "reasons",
        "spend_recent",  # the 30 days before are its tooltip
        "lifetime_spend",
        "last_paid",
        "last_seen",
    ]
    list_display_links = None
    list_filter = [RiskBandFilter, ChurnReasonFilter, "tier"]
    search_fields = ["=account_id", "nickname"]
    show_full_result_count = False
    list_per_page = 50
    actions = []  # campaigns adds "create win-back tasks" (campaigns/admin/winback.py)

    def get_queryset(self, request):
        return at_risk_vips(request.user)

    def get_ordering(self, request):
        return ["-priority", "-total_spend", "pk"]  # risk × lifetime value (annotated by the selector)

    @admin.display(description=_("VIP"), ordering="tier__level")
    def tier_badge(self, obj):
        return format_html('<span class="vip-badge" style="background:{}">{}</span>', obj.tier.colour, obj.tier.name)

    @admin.display(description=_("churn risk"), ordering="churn__risk_score")
    def risk(self, obj):
        return risk_badge(obj.churn.risk_score if hasattr(obj, "churn") else None)

    @admin.display(description=_("why"))
    def reasons(self, obj):
        if not hasattr(obj, "churn"):
            return "-"
        return truncated_lines([reason_label(code) for code in obj.churn.reasons], width="7em")

    @admin.display(description=_("spend, last 30 days"), ordering="churn__spend_recent")
    def spend_recent(self, obj):
        if not hasattr(obj, "churn"):
            return "-"
        before = f"{_('spend, 30 days before')}: {money(obj.churn.spend_previous)}"
        return format_html('<span title="{}">{}</span>', before, money(obj.churn.spend_recent))

    @admin.display(description=_("lifetime spend"), ordering="total_spend")
    def lifetime_spend(self, obj):
        return money(obj.total_spend)

    @admin.display(description=_("last paid"), ordering="last_paid_at")
    def last_paid(self, obj):
        return short_time(obj.last_paid_at)

    @admin.display(description=_("last login"), ordering="last_login_at")
    def last_seen(self, obj):
        return short_time(obj.last_login_at)


@admin.register(PayerStatusChange)
class PayerStatusChangeAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    """Every payer-status transition, read-only; the churn report hangs off it."""

    list_display = ["changed", "player", "from_status", "to_status", "recovery", "tier", "risk", "why", "trigger"]
    list_filter = ["to_status", "from_status", "trigger", "tier", HistoryReasonFilter]
    list_select_related = ["player", "tier"]
    search_fields = ["=player__account_id"]
    date_hierarchy = "changed_at"
    show_full_result_count = False
    raw_id_fields = ["player"]

    @admin.display(description=_("when"), ordering="changed_at")
    def changed(self, obj):
        return when(obj.changed_at)

    @admin.display(description=_("recovered"), boolean=True)
    def recovery(self, obj):
        return obj.is_recovery

    @admin.display(description=_("churn risk"), ordering="risk_score")
    def risk(self, obj):
        return risk_badge(obj.risk_score)

    @admin.display(description=_("why"))
    def why(self, obj):
        if obj.to_status == PayerStatus.CHURNED:
            days = int(obj.days_since_payment or 0)
            return ngettext("no payment for %(days)d day", "no payment for %(days)d days", days) % {"days": days}
        return reasons_text(obj.reasons)

    # --- the churn report ---------------------------------------------------------
    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="players_churn_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "churn_report_url": reverse("admin:players_churn_report")}
        return super().changelist_view(request, extra_context)

    def report_view(self, request):
        if not request.user.has_perm(REPORT_PERMISSION):
            raise PermissionDenied
        try:
            months = min(max(int(request.GET.get("months", 12)), 1), 36)
        except ValueError:
            months = 12
        report = churn_report(now=timezone.now(), months=months)
        rows = churn_report_rows(report)
        if request.GET.get("format") == "csv":
            return self._report_csv(rows)
        at_risk = revenue_at_risk()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Payer churn report"),
            "opts": self.model._meta,
            "report": report,
            "table": [
                (month, [(tier, report.cell(month, tier)) for tier in report.tiers], report.total(month))
                for month in reversed(report.months)
            ],
            "at_risk": [(tier, *at_risk["by_tier"].get(tier.pk if tier else None, (0, 0))) for tier in report.tiers],
            "at_risk_total": at_risk,
            "chart": {
                "labels": [m.strftime("%Y-%m") for m in report.months],
                "churn_rate": [_pct(report.total(m).churn_rate) for m in report.months],
                "recovery_rate": [_pct(report.total(m).recovery_rate) for m in report.months],
                "revenue_at_risk": [
                    None if report.total(m).revenue_at_risk is None else float(report.total(m).revenue_at_risk)
                    for m in report.months
                ],
                "names": {
                    "churn_rate": str(_("churn rate (%)")),
                    "recovery_rate": str(_("recovery rate (%)")),
                    "revenue_at_risk": str(_("revenue at risk")),
                },
            },
            "months": months,
        }
        return TemplateResponse(request, "admin/players/churn_report.html", context)

    def _report_csv(self, rows):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payer-churn-{timezone.localdate().isoformat()}.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 correctly with a BOM
        writer = csv_writer(response)
        writer.writerow(
            [
                "month",
                "tier",
                "payers_at_start",
                "churned",
                "churn_rate_pct",
                "churned_at_start",
                "recovered",
                "recovery_rate_pct",
                "revenue_at_risk",
            ]
        )
        writer.writerows(rows)
        return response


def _pct(value):
    return None if value is None else round(value * 100, 2)
