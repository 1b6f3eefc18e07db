from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerritoryConfig(AppConfig):
    name = "grassroots.territory"
    label = "territory"
    verbose_name = _("Territory")

    def ready(self) -> None:
        # The audit app, below this one, asks which scopes hold a top-level unit (they see the
        # events without a territory: key rotations, the summary of an import).
        from grassroots.audit import selectors

        from .models import Unit

        def holds_top_level_unit(scope: selectors.Scope) -> bool:
            return Unit.objects.in_scope(scope).filter(parent__isnull=True).exists()

        selectors.holds_top_level_unit = holds_top_level_unit
