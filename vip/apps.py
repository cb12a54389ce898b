from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VipConfig(AppConfig):
    name = "vip"
    verbose_name = _("VIP")
