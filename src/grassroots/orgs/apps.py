from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "grassroots.orgs"
    label = "orgs"
    verbose_name = _("Party organizations")

    def ready(self) -> None:
        # Registers the periodic task (the branch life reminders) with the worker.
        # Adds the member records to a person's copy and anonymization (registry).
        from . import (
            personal_data,  # noqa: F401
            tasks,  # noqa: F401
        )
