"""The supervisors' queue of minors' payments over the NPPA caps (players.services.minors):
open ones first, reviewed with a note; a refund case (未成年人退款) opened from the row."""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin_columns import player_column, short_time
from crm.admin_readonly import ReadOnlyAdminMixin
from crm.formatting import money
from crm.names import staff_name
from crm.privacy import can_view_personal_data

from ..models import CaseCategory, MinorSpendFlag
from ..services.minors import minor_flag_review
from .scoping import PlayerScopedAdminMixin

REVIEW_PERMISSION = "players.review_minorspendflag"


class MinorFlagOpenFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("To review")), ("no", _("Reviewed")), ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or "yes"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "yes"
        if value == "yes":
            return queryset.filter(reviewed_at__isnull=True)
        if value == "no":
            return queryset.filter(reviewed_at__isnull=False)
        return queryset


class MinorFlagReviewForm(forms.Form):
    note = forms.CharField(
        label=_("review note"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("What was done: the guardian reached, a refund case opened, the game's team told."),
    )


@admin.register(MinorSpendFlag)
class MinorSpendFlagAdmin(ReadOnlyAdminMixin, PlayerScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "paid",
        player_column(),
        "rule",
        "age_display",
        "amount_display",
        "month_display",
        "cap_display",
        "todo",
    ]
    list_filter = [MinorFlagOpenFilter, "rule"]
    list_select_related = ["player", "reviewed_by"]
    search_fields = ["=player__account_id"]
    search_help_text = _("Account id.")
    list_per_page = 50

    def get_urls(self):
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="players_minorspendflag_review",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        self._viewer = request.user
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("paid at"), ordering="occurred_at")
    def paid(self, obj):
        return short_time(obj.occurred_at)

    @admin.display(description=_("age at payment"))
    def age_display(self, obj):
        # An exact age tells the birthday's year: only for those who may see personal data.
        if can_view_personal_data(getattr(self, "_viewer", None)):
            return obj.age
        return gettext("under 14") if obj.age < 14 else gettext("14 to 17")

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description=_("spent in the month"))
    def month_display(self, obj):
        return money(obj.month_total)

    @admin.display(description=_("cap"))
    def cap_display(self, obj):
        return money(obj.cap)

    @admin.display(description=_("do"))
    def todo(self, obj):
        case_url = (
            reverse("admin:players_case_add")
            + "?"
            + urlencode({"player": obj.player_id, "category": CaseCategory.MINOR_REFUND})
        )
        if obj.reviewed_at is not None:
            return format_html(
                "{} · {}<br><small>{}</small>",
                staff_name(obj.reviewed_by) or "-",
                short_time(obj.reviewed_at),
                obj.review_note,
            )
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:players_minorspendflag_review", args=[obj.pk]),
            gettext("Mark reviewed"),
            case_url,
            gettext("Open a minor refund case"),
        )

    def review_view(self, request, pk):
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        flag = get_object_or_404(self.get_queryset(request), pk=pk)
        form = MinorFlagReviewForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                minor_flag_review(flag=flag, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(request, gettext("Marked reviewed."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:players_minorspendflag_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Review: %(flag)s") % {"flag": flag},
            "opts": self.model._meta,
            "flag": flag,
            "form": form,
        }
        return render(request, "admin/players/minorspendflag/review.html", context)
