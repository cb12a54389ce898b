from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipConfig(AppConfig):
    name = "vip"
    verbose_name = _("VIP")

    def ready(self):
        from players.services.ledger import projection_step_add

        from .services import tiers_evaluate

        # The rule that a payment moves a tier runs in every projection of the ledger.
        projection_step_add(tiers_evaluate)
