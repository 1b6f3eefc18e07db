"""Territory: administrative units and the grids cut out of villages and communities."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from grassroots.core.scoping import CodeScopedQuerySet
from grassroots.core.validators import validate_name

from .geometry import find_overlaps, parse_polygon

# Code length of each level (GB/T 2260 for province to county, statistical division codes below).
LEVEL_BY_LENGTH = {2: "province", 4: "city", 6: "county", 9: "town", 12: "village"}
PARENT_LENGTH = {4: 2, 6: 4, 9: 6, 12: 9, 15: 12}
GRID_CODE_LENGTH = 15


class Unit(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County/district")
        TOWN = "town", _("Town/street")
        VILLAGE = "village", _("Village/community")

    class Kind(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County/district")
        TOWN = "town", _("Town/township")
        STREET = "street", _("Street")
        VILLAGE = "village", _("Village")
        COMMUNITY = "community", _("Community")

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    objects = CodeScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__in=["province", "city", "county", "town", "village"]),
                name="unit_level_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def scope_code(self) -> str:
        return self.code

    def clean(self) -> None:
        """A code fits its level and starts with its parent's code; the kind fits the level."""
        errors: dict[str, list[Any]] = {}
        if self.level and self.kind and self.kind not in KINDS_BY_LEVEL.get(self.level, set()):
            errors["kind"] = [_("This kind does not fit the level.")]
        code = self.code
        if code and (not code.isdigit() or len(code) not in LEVEL_BY_LENGTH):
            errors["code"] = [_("A unit code has 2, 4, 6, 9 or 12 digits.")]
        elif code:
            if self.level and LEVEL_BY_LENGTH[len(code)] != self.level:
                errors["level"] = [
                    _("A code of %(n)d digits belongs to the level “%(level)s”.")
                    % {"n": len(code), "level": Unit.Level(LEVEL_BY_LENGTH[len(code)]).label}
                ]
            parent = self.parent if self.parent_id else None
            if parent is not None and parent.code != code[: PARENT_LENGTH.get(len(code), 0)]:
                errors["parent"] = [
                    _("The code %(code)s does not lie under the parent's code %(parent)s.")
                    % {"code": code, "parent": parent.code}
                ]
        if errors:
            raise ValidationError(errors)


# Which kinds a unit of each level may be.
KINDS_BY_LEVEL: dict[str, set[str]] = {
    Unit.Level.PROVINCE: {Unit.Kind.PROVINCE},
    Unit.Level.CITY: {Unit.Kind.CITY},
    Unit.Level.COUNTY: {Unit.Kind.COUNTY},
    Unit.Level.TOWN: {Unit.Kind.TOWN, Unit.Kind.STREET},
    Unit.Level.VILLAGE: {Unit.Kind.VILLAGE, Unit.Kind.COMMUNITY},
}


class Grid(models.Model):
    class Kind(models.TextChoices):
        COMPREHENSIVE = "comprehensive", _("Comprehensive grid")
        DEDICATED = "dedicated", _("Dedicated grid")

    code = models.CharField(_("code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.COMPREHENSIVE
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("village/community"), on_delete=models.PROTECT, related_name="grids"
    )
    boundary = models.JSONField(_("boundary (GeoJSON, WGS84)"))
    # Bounding box, kept with the boundary: lets the map and point placement skip far grids.
    min_lon = models.FloatField(editable=False)
    min_lat = models.FloatField(editable=False)
    max_lon = models.FloatField(editable=False)
    max_lat = models.FloatField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CodeScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def scope_code(self) -> str:
        return self.code

    def clean(self) -> None:
        label = f"{self.code} ({self.name})"
        if not (self.code.isdigit() and len(self.code) == GRID_CODE_LENGTH):
            raise ValidationError({"code": _("grid %(g)s: code must be 15 digits") % {"g": label}})
        if self.unit_id and not self.code.startswith(self.unit.code):
            raise ValidationError(
                {
                    "code": _(
                        "grid %(g)s: code must start with the code of its village/community %(u)s"
                    )
                    % {"g": label, "u": self.unit.code}
                }
            )
        try:
            polygon = parse_polygon(self.boundary)
        except ValidationError as exc:
            raise ValidationError(
                {"boundary": _("grid %(g)s: %(reason)s") % {"g": label, "reason": exc.messages[0]}}
            ) from None
        others = Grid.objects.exclude(pk=self.pk).filter(
            min_lon__lte=polygon.bounds[2],
            max_lon__gte=polygon.bounds[0],
            min_lat__lte=polygon.bounds[3],
            max_lat__gte=polygon.bounds[1],
        )
        overlaps = find_overlaps(
            [(self.code, polygon)], [(g.code, parse_polygon(g.boundary)) for g in others]
        )
        if overlaps:
            raise ValidationError(
                {
                    "boundary": _("grid %(g)s overlaps grid %(o)s")
                    % {"g": label, "o": overlaps[0][1]}
                }
            )

    def set_boundary(self, geometry: dict[str, Any]) -> None:
        polygon = parse_polygon(geometry)
        self.boundary = geometry
        self.min_lon, self.min_lat, self.max_lon, self.max_lat = polygon.bounds

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.boundary is not None:
            self.set_boundary(self.boundary)
        super().save(*args, **kwargs)
