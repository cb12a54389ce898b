from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipConfig(AppConfig):
    name = "vip"
    verbose_name = _("VIP")

    def ready(self):
        from players.services.ledger import projection_step_add
        from players.services.profile import manager_assigner_set

        from .services import manager_assign_allowed, players_assign_manager, tiers_evaluate

        # The rule that a payment moves a tier runs in every projection of the ledger.
        projection_step_add(tiers_evaluate)
        # Imports move players between managers through the one assignment service.
        manager_assigner_set(assign=players_assign_manager, allowed=manager_assign_allowed)

        from .privacy import player_tables_register

        player_tables_register()  # tier and manager history in a player's data file and erasure
