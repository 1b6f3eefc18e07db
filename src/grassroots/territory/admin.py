"""Admin for units and grids, scoped like every other read (see core.admin_support)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import ScopedAdminMixin
from grassroots.core.text import compact
from grassroots.registry.models import Household

from .models import LEVEL_BY_LENGTH, PARENT_LENGTH, Grid, Unit

# Which kinds a unit of each level may be.
KINDS_BY_LEVEL = {
    Unit.Level.PROVINCE: {Unit.Kind.PROVINCE},
    Unit.Level.CITY: {Unit.Kind.CITY},
    Unit.Level.COUNTY: {Unit.Kind.COUNTY},
    Unit.Level.TOWN: {Unit.Kind.TOWN, Unit.Kind.STREET},
    Unit.Level.VILLAGE: {Unit.Kind.VILLAGE, Unit.Kind.COMMUNITY},
}


class UnitForm(forms.ModelForm):
    """A new unit's code must fit its level and start with its parent's code."""

    class Meta:
        model = Unit
        fields = ("code", "name", "level", "kind", "parent")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        level, kind = data.get("level"), data.get("kind")
        if level and kind and kind not in KINDS_BY_LEVEL[level]:
            self.add_error("kind", gettext("This kind does not fit the level."))
        if "code" not in self.fields:  # the code is fixed once a unit exists
            return data
        code = compact(data.get("code") or "")
        data["code"] = code
        if not code:
            return data
        if not code.isdigit() or len(code) not in LEVEL_BY_LENGTH:
            self.add_error("code", gettext("A unit code has 2, 4, 6, 9 or 12 digits."))
            return data
        if level and LEVEL_BY_LENGTH[len(code)] != level:
            self.add_error(
                "level",
                gettext("A code of %(n)d digits belongs to the level “%(level)s”.")
                % {"n": len(code), "level": Unit.Level(LEVEL_BY_LENGTH[len(code)]).label},
            )
        parent = data.get("parent")
        if parent is not None and parent.code != code[: PARENT_LENGTH.get(len(code), 0)]:
            self.add_error(
                "parent",
                gettext("The code %(code)s does not lie under the parent's code %(parent)s.")
                % {"code": code, "parent": parent.code},
            )
        return data


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
        households = (
            Household.objects.filter(grid=OuterRef("pk"))
            .order_by()
            .values("grid")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(household_count=Coalesce(Subquery(households), 0))
        )

    @admin.display(description=_("household count"), ordering="household_count")
    def household_count(self, obj: Grid) -> int:
        return obj.household_count  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Grid | None = None) -> Any:
        # Households carry their grid's code: a grid keeps its code and its village.
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["code", "unit"]
        return readonly
