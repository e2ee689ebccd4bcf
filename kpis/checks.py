"""System checks of the KPI settings, so that a misconfiguration stops `manage.py check` and start-up
instead of the next run."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def shard_scope_groups(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """KPI_SHARD_SCOPE_GROUPS holds each scope type once (see `services.scope_groups`)."""
    from kpis.services import scope_groups

    try:
        scope_groups()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="kpis.E001")]
    return []
