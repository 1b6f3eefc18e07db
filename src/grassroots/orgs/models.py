"""Party organizations (联, DOMAIN.md "Organizations"): committees, general branches, branches,
joint branches (联合党支部) and temporary branches, each attached to the territory units it serves.

An ordinary branch serves one unit; a joint branch serves several villages and communities
without merging them ("五个不变": each keeps its land, people, self-government and assets), so
the units are a table of their own (`OrganizationUnit`) rather than a column. Who sees an
organization follows from those units (selectors.py): a user whose scope holds any of them, or
lies inside one of them (a grid worker sees their village's branch).
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.core.validators import validate_name
from grassroots.territory.models import Unit

# The county's own codes: letters, digits and hyphens inside (not first or last).
ORG_CODE_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$"
ORG_CODE_MAX_LENGTH = 32
validate_org_code = RegexValidator(
    ORG_CODE_PATTERN,
    _("Use letters, digits and hyphens inside, at most 32 characters."),
)


class Organization(models.Model):
    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("Party committee (党委)")
        GENERAL_BRANCH = "general_branch", _("General branch (党总支)")
        BRANCH = "branch", _("Branch (党支部)")
        JOINT_BRANCH = "joint_branch", _("Joint branch (联合党支部)")
        TEMPORARY_BRANCH = "temporary_branch", _("Temporary branch (临时党支部)")

    code = models.CharField(
        _("code"), max_length=ORG_CODE_MAX_LENGTH, unique=True, validators=[validate_org_code]
    )
    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent organization"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    units = models.ManyToManyField(
        Unit,
        verbose_name=_("units served"),
        through="OrganizationUnit",
        related_name="organizations",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("party organization")
        verbose_name_plural = _("party organizations")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def audit_scope(self) -> str:
        """The deepest unit holding every unit the organization serves: where its audit events
        belong (services set `unit_codes_written` before they record)."""
        codes = getattr(self, "unit_codes_written", None)
        if codes is None:
            codes = list(self.served.values_list("unit_code", flat=True)) if self.pk else []
        return common_unit(codes)


def common_unit(codes: list[str]) -> str:
    """The longest unit code (2, 4, 6, 9 or 12 digits) that every one of `codes` starts with."""
    if not codes:
        return ""
    first, last = min(codes), max(codes)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return next((first[:m] for m in (12, 9, 6, 4, 2) if m <= n), "")


class OrganizationUnit(models.Model):
    """One unit an organization serves; `unit_code` repeats the unit's code so that the scope
    test (a range on codes, core/scoping.py) needs no join."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="served")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    unit_code = models.CharField(max_length=12, editable=False, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "unit"], name="orgunit_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} → {self.unit_code}"
