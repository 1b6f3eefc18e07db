from django.contrib import admin

from . import admin_notifications  # noqa: F401  (registers Notification)
from .models import CalendarDay


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Holidays and adjusted working days for years the official calendar does not know yet."""

    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"
    search_fields = ("name",)
