from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesteamConfig(AppConfig):
    name = "salesteam"
    verbose_name = _("Sales")
