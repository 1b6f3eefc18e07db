"""Admin for units and grids, scoped like every other read (see core.admin_support)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import ScopedAdminMixin
from grassroots.core.text import compact

from . import services
from .models import Grid, Unit


class UnitForm(forms.ModelForm):
    """A new unit's code is read without spaces; Unit.clean checks it against its level and
    its parent's code."""

    class Meta:
        model = Unit
        fields = ("code", "name", "level", "kind", "parent")

    def clean_code(self) -> str:
        return compact(self.cleaned_data.get("code") or "")


@admin.register(Unit)
class UnitAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = UnitForm
    list_display = ("code", "name", "level", "kind", "parent")
    list_filter = ("level",)
    list_select_related = ("parent",)
    search_fields = ("^code", "name")
    fields = ("code", "name", "level", "kind", "parent")

    def get_readonly_fields(self, request: HttpRequest, obj: Unit | None = None) -> Any:
        # Codes are paths: changing a code or a parent would orphan every row below.
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["code", "parent"]
        return readonly

    def create_object(self, request: HttpRequest, obj: Unit, form: Any) -> Unit:
        data = self.form_values(obj, form, services.UNIT_FIELDS)
        return services.unit_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Unit, form: Any) -> Unit:
        data = self.form_values(obj, form, services.UNIT_CHANGEABLE)
        return services.unit_update(actor=self.actor(request), unit=obj.pk, data=data)

    def delete_objects(self, request: HttpRequest, objects: list[Unit]) -> None:
        services.units_delete(actor=self.actor(request), units=objects)


class GridForm(forms.ModelForm):
    class Meta:
        model = Grid
        fields = ("code", "name", "kind", "unit", "boundary")
        widgets = {
            "boundary": forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
        }
        help_texts = {
            "boundary": _(
                "A GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude, for example "
                '{"type": "Polygon", "coordinates": [[[118.1, 26.1], [118.11, 26.1], '
                "[118.11, 26.11], [118.1, 26.1]]]}"
            ),
            "code": _("15 digits: the code of the village/community and a 3-digit number."),
        }


@admin.register(Grid)
class GridAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = GridForm
    list_display = ("code", "name", "kind", "unit", "household_count")
    list_filter = ("kind", "unit")
    list_select_related = ("unit",)
    search_fields = ("^code", "name")
    fields = ("code", "name", "kind", "unit", "boundary")
    fk_choice_filters = {"unit": {"level": Unit.Level.VILLAGE}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grid]:
        # Through the reverse relation the registry declares (Household.grid, related name
        # "households"): the territory app does not import the registry above it.
        return super().get_queryset(request).annotate(household_count=Count("households"))

    @admin.display(description=_("household count"), ordering="household_count")
    def household_count(self, obj: Grid) -> int:
        return obj.household_count  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Grid | None = None) -> Any:
        # Households carry their grid's code: a grid keeps its code and its village.
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["code", "unit"]
        return readonly

    def create_object(self, request: HttpRequest, obj: Grid, form: Any) -> Grid:
        data = self.form_values(obj, form, services.GRID_FIELDS)
        return services.grid_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Grid, form: Any) -> Grid:
        data = self.form_values(obj, form, services.GRID_CHANGEABLE)
        return services.grid_update(actor=self.actor(request), grid=obj.pk, data=data)

    def delete_objects(self, request: HttpRequest, objects: list[Grid]) -> None:
        services.grids_delete(actor=self.actor(request), grids=objects)
