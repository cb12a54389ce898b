from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipConfig(AppConfig):
    name = "vip"
    verbose_name = _("VIP")

    def ready(self):
        from players.services.profile import manager_assigner_set
        from players.services.projection import projection_step_add

        from .services import manager_assign_allowed, players_assign_manager, tiers_evaluate

        # The rule that a payment moves a tier runs in every projection of the ledger.
        projection_step_add(tiers_evaluate)
        # ... with the tiers it keeps (tiers_for_events), forgotten when a tier changes.
        from django.db.models.signals import post_delete, post_save

        from .models import Tier
        from .services import tiers_changed

        post_save.connect(tiers_changed, sender=Tier, dispatch_uid="vip_tiers_changed_save")
        post_delete.connect(tiers_changed, sender=Tier, dispatch_uid="vip_tiers_changed_delete")
        # Imports move players between managers through the one assignment service.
        manager_assigner_set(assign=players_assign_manager, allowed=manager_assign_allowed)

        from .privacy import player_tables_register

        player_tables_register()  # tier and manager history in a player's data file and erasure

        from players.services.persons import person_table_register

        from .models import ManagerAssignment

        person_table_register(ManagerAssignment)  # the manager's history is the VIP person's

        # Scripts and messages may say how much more the player spends to keep the tier.
        from players.templating import template_variable_provide

        from .services import spend_to_keep_tier

        template_variable_provide(
            "spend_to_keep_tier",
            _("What the player still has to spend within the tier's window to keep it (empty without a tier)"),
            spend_to_keep_tier,
        )
