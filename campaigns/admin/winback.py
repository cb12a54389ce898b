"""Win-back from the at-risk worklist: campaigns adds its action to players' worklist
admin (players <- campaigns: the lower app's admin is extended, never imports upward)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from players.admin.payer_status import AtRiskPlayerAdmin
from players.models import AtRiskPlayer

from ..services.winback import winback_tasks_create

admin.site.unregister(AtRiskPlayer)


@admin.register(AtRiskPlayer)
class AtRiskWinbackAdmin(AtRiskPlayerAdmin):
    actions = [*AtRiskPlayerAdmin.actions, "create_winback_tasks"]

    @admin.action(description=_("Create win-back tasks"), permissions=["winback"])
    def create_winback_tasks(self, request, queryset):
        created = winback_tasks_create(players=queryset, actor=request.user)
        skipped = queryset.count() - created
        self.message_user(
            request,
            ngettext("%(count)d win-back task created.", "%(count)d win-back tasks created.", created)
            % {"count": created},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d player already has a task for this spell.",
                    "%(count)d players already have a task for this spell.",
                    skipped,
                )
                % {"count": skipped},
                messages.INFO,
            )

    def has_winback_permission(self, request):
        return request.user.has_perm("campaigns.add_outreachtask")
