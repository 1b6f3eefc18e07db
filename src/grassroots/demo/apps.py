from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo county (`grassroots demo`): above every domain app, since it fills them all."""

    name = "grassroots.demo"
    label = "demo"
    verbose_name = _("Demo county")
