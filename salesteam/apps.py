from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesteamConfig(AppConfig):
    name = "salesteam"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from salesteam import i18n  # noqa: F401  (connects the language-on-login receiver)
