"""Context providers for the dashboard (admin index) and the player page."""

from dataclasses import asdict

from django import template
from django.urls import reverse
from django.utils import timezone

from crm.workplace.customer_card import customer_card
from crm.workplace.dashboard import dashboard_sections
from crm.workplace.forms import ContactQuickForm
from crm.workplace.player_actions import quick_actions
from crm.workplace.timeline import player_timeline
from players.models import player_erased_text

register = template.Library()


@register.simple_tag(takes_context=True)
def workplace_dashboard(context):
    """The dashboard's sections for the user of this request."""
    return dashboard_sections(context["request"])


@register.simple_tag(takes_context=True)
def player_workplace(context, player):
    """The customer card, the quick actions and the timeline page asked for (?timeline=<cursor>)."""
    request = context["request"]
    user = request.user
    return {
        "card": customer_card(player=player, user=user),
        "timeline": player_timeline(player=player, user=user, before=request.GET.get("timeline")),
        "actions": quick_actions(player=player, user=user),
        "contact_form": ContactQuickForm()
        if user.has_perm("players.add_contactlog") and not player.erased_at
        else None,
        "contact_url": reverse("workplace:log_contact", args=[player.pk]),
        # erased on request: no quick action, and the page says why where they were
        "erased_notice": player_erased_text() if player.erased_at else "",
        "today": timezone.localdate(),
    }


@register.filter
def chart_data(chart):
    return asdict(chart)
