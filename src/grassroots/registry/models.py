"""Registry: households, residents and enterprises (人、地、物、组织)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from grassroots.core import crypto
from grassroots.core.crypto import EncryptedCharField
from grassroots.core.scoping import ScopedQuerySet
from grassroots.core.text import clean_text, compact, name_key, name_pinyin
from grassroots.core.validators import (
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
    validate_credit_code,
    validate_household_code,
    validate_mobile,
    validate_name,
)

TAG_SEPARATOR = "|"


def join_tags(tags: list[str] | tuple[str, ...] | set[str]) -> str:
    """Stored form of a tag set: sorted, delimited on both sides so `|低保|` matches exactly."""
    unique = sorted({t for t in tags if t})
    return f"{TAG_SEPARATOR}{TAG_SEPARATOR.join(unique)}{TAG_SEPARATOR}" if unique else ""


def split_tags(stored: str) -> list[str]:
    return [t for t in stored.split(TAG_SEPARATOR) if t]


class Tag(models.Model):
    """The vocabulary of household and resident tags; imports refuse tags not in it."""

    class Kind(models.TextChoices):
        CARE = "care", _("Care (关爱对象)")
        SENSITIVE = "sensitive", _("Sensitive (特殊人群)")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=30, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sensitive(self) -> bool:
        return self.kind == self.Kind.SENSITIVE

    def audit_split(self, changes: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """A sensitive tag's own events are sensitive whole: even its name stays behind the
        grant, as in the lists of known tags (see audit.services.split_sensitive)."""
        kinds = changes.get("kind")
        was_sensitive = isinstance(kinds, list) and self.Kind.SENSITIVE in kinds
        if self.sensitive or was_sensitive:
            return None, changes
        return changes, {}


def sensitive_tag_names() -> frozenset[str]:
    """The tags behind the explicit grant registry.view_sensitive_tags (特殊人群)."""
    return frozenset(Tag.objects.filter(kind=Tag.Kind.SENSITIVE).values_list("name", flat=True))


def split_tag_changes(
    changes: dict[str, Any], sensitive: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, sensitive) parts of an audit event's changes of a tagged row.

    The public part keeps every change with the sensitive tags cut out of the tag values (a
    tags entry whose values are then equal is left out); the sensitive part is the tags entry
    as stored, when the row's sensitive tags were given, changed or removed. Imports and the
    audit service (through TaggedModel.audit_split) both use it.
    """
    tags = changes.get("tags")
    if not sensitive or not isinstance(tags, list | tuple) or len(tags) != 2:
        return changes, {}
    before, after = tags

    def secret(value: Any) -> list[str]:
        return [t for t in split_tags(value) if t in sensitive] if isinstance(value, str) else []

    def public(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return join_tags([t for t in split_tags(value) if t not in sensitive])

    if not secret(before) and not secret(after):
        return changes, {}
    shown = dict(changes)
    before_shown, after_shown = public(before), public(after)
    if (before_shown or "") == (after_shown or ""):  # None and "" are both no tags
        del shown["tags"]
    else:
        shown["tags"] = [before_shown, after_shown]
    hidden = {"tags": [before, after]} if secret(before) != secret(after) else {}
    return shown, hidden


class TaggedModel(models.Model):
    tags = models.CharField(_("tags"), max_length=300, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def tag_list(self) -> list[str]:
        return split_tags(self.tags)

    def audit_split(self, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sensitive tags go to a sensitive audit event of their own (audit.split_sensitive)."""
        if "tags" not in changes:
            return changes, {}
        return split_tag_changes(changes, sensitive_tag_names())


class PlacedModel(models.Model):
    """A registry row with a place: coordinates, a grid (or only a unit) and its scope code."""

    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    grid = models.ForeignKey(
        "territory.Grid",
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="%(class)ss",
    )
    unit = models.ForeignKey(
        "territory.Unit",
        verbose_name=_("village/community"),
        on_delete=models.PROTECT,
        related_name="%(class)ss",
    )
    # The grid code, or the unit code while the row has no grid (see core.scoping).
    scope_code = models.CharField(max_length=15, db_index=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def fill_place(self) -> None:
        """The unit follows the grid when only a grid is given; the scope code is the grid's
        code, or the unit's while the row has no grid."""
        if self.grid is not None and not self.unit_id:
            self.unit_id = self.grid.unit_id
        if self.grid is not None:
            self.scope_code = self.grid.code
        elif self.unit_id:
            self.scope_code = self.unit.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_place()
        super().save(*args, **kwargs)

    def clean_place(self) -> None:
        if (self.lon is None) != (self.lat is None):
            raise ValidationError(_("longitude and latitude go together"))
        if self.grid is not None and self.unit_id and not self.grid.code.startswith(self.unit.code):
            raise ValidationError({"grid": _("the grid is not in this village/community")})


class Household(TaggedModel, PlacedModel):
    code = models.CharField(
        _("household code"), max_length=32, unique=True, validators=[validate_household_code]
    )
    address = models.CharField(_("address"), max_length=200)
    building = models.CharField(_("building"), max_length=20, blank=True)
    unit_no = models.CharField(_("unit (entrance)"), max_length=20, blank=True)
    room = models.CharField(_("room"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["code"]
        permissions = [
            ("view_coverage", "Can view the coverage audit"),
            ("import_registry", "Can import registry spreadsheets"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(lon__isnull=True) & models.Q(lat__isnull=True))
                | (models.Q(lon__isnull=False) & models.Q(lat__isnull=False)),
                name="household_lon_lat_together",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.address}"

    def clean(self) -> None:
        self.address = clean_text(self.address)
        self.clean_place()


class ResidentQuerySet(ScopedQuerySet["Resident"]):
    """Residents; ID and mobile numbers are found through their keyed hashes (core.crypto)."""

    def with_id_number(self, number: str) -> ResidentQuerySet:
        return self.filter(id_hash=crypto.digest(compact(number).upper()))

    def with_phone(self, number: str) -> ResidentQuerySet:
        return self.filter(phone_hash=crypto.digest(compact(number)))


class Resident(TaggedModel):
    class Sex(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    class Relation(models.TextChoices):
        HEAD = "head", _("Head of household")
        SPOUSE = "spouse", _("Spouse")
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent")
        GRANDCHILD = "grandchild", _("Grandchild")
        GRANDPARENT = "grandparent", _("Grandparent")
        SIBLING = "sibling", _("Sibling")
        CHILD_IN_LAW = "child_in_law", _("Son/daughter-in-law")
        OTHER = "other", _("Other relative")
        TENANT = "tenant", _("Tenant")

    class Residency(models.TextChoices):
        REGISTERED = "registered", _("Registered (户籍)")
        RESIDENT = "resident", _("Living here, not registered (常住)")
        FLOATING = "floating", _("Floating (流动)")

    name = models.CharField(_("name"), max_length=50, validators=[validate_name])
    # Search keys, derived from the name on save: simplified characters, full pinyin, initials.
    name_key = models.CharField(max_length=50, editable=False, db_index=True)
    name_pinyin = models.CharField(max_length=200, editable=False, db_index=True)
    name_initials = models.CharField(max_length=50, editable=False, db_index=True)
    # Encrypted at rest (core.crypto); `id_hash` is its keyed hash for lookup and duplicates.
    # ID numbers are not unique: merged registers hold people twice, and the audit shows it.
    id_number = EncryptedCharField(_("ID number"), max_length=18)
    id_hash = models.CharField(max_length=32, editable=False, db_index=True, default="")
    # Keyed hash of the last four characters: the search "by the last digits" uses this index.
    id_tail = models.CharField(max_length=16, editable=False, db_index=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone = EncryptedCharField(_("mobile number"), max_length=11, blank=True)
    phone_hash = models.CharField(max_length=32, editable=False, blank=True, db_index=True)
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    relation = models.CharField(
        _("relation to head"), max_length=16, choices=Relation.choices, blank=True
    )
    residency = models.CharField(
        _("residency"), max_length=12, choices=Residency.choices, default=Residency.REGISTERED
    )
    moved_out_on = models.DateField(_("moved out on"), null=True, blank=True)
    deceased_on = models.DateField(_("deceased on"), null=True, blank=True)
    unit = models.ForeignKey(
        "territory.Unit",
        verbose_name=_("village/community"),
        on_delete=models.PROTECT,
        related_name="residents",
    )
    scope_code = models.CharField(max_length=15, db_index=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ResidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["name_key", "id"]
        permissions = [
            ("reveal_resident", "Can reveal ID and mobile numbers, giving a reason"),
            ("view_sensitive_tags", "Can see sensitive tags (explicit grant)"),
        ]
        indexes = [
            # Coverage audit: ID numbers held by more than one current resident (GROUP BY
            # id_hash over the scope); scope_code rides along so the table is not read.
            models.Index(
                fields=["id_hash", "scope_code"],
                condition=models.Q(moved_out_on__isnull=True, deceased_on__isnull=True),
                name="resident_current_id",
            ),
            # Coverage audit: households without a current member (NOT EXISTS per household).
            models.Index(
                fields=["household"],
                condition=models.Q(moved_out_on__isnull=True, deceased_on__isnull=True),
                name="resident_current_household",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.id_number_masked}"

    @property
    def audit_label(self) -> str:
        """Masked name and number, for the audit trail and logs."""
        return f"{mask_name(self.name)} {self.id_number_masked}"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def is_current(self) -> bool:
        return self.moved_out_on is None and self.deceased_on is None

    @property
    def age(self) -> int:
        today = datetime.date.today()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            self.id_number = parse_id_number(self.id_number).number
        except ValidationError as exc:
            errors["id_number"] = exc.messages
        if self.phone:
            try:
                self.phone = validate_mobile(self.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        self.name = clean_text(self.name)
        if not self.name:
            errors["name"] = [_("name is empty")]
        if self.household_id is None and self.relation and self.relation != self.Relation.TENANT:
            errors["relation"] = [_("a relation to the head needs a household")]
        if errors:
            raise ValidationError(errors)

    def fill_derived(self) -> None:
        """Derived columns: search keys, ID tail, birth date and sex, scope."""
        self.name = clean_text(self.name)
        self.name_key = name_key(self.name)
        self.name_pinyin, self.name_initials = name_pinyin(self.name_key)
        parsed = parse_id_number(self.id_number)
        self.id_number = parsed.number
        self.id_hash = crypto.digest(parsed.number)
        self.id_tail = crypto.tail_digest(parsed.number[-4:])
        self.phone_hash = crypto.digest(self.phone or "")
        self.birth_date = parsed.birth_date
        self.sex = parsed.sex
        self.fill_place()

    def fill_place(self) -> None:
        """A member carries their household's unit and scope code; a resident without a
        household, their unit's code. (A household that moves takes its members along through
        registry.services.household_members_follow.)"""
        if self.household_id:
            household = self.household
            assert household is not None
            self.unit_id = household.unit_id
            self.scope_code = household.scope_code
        elif self.unit_id:
            self.scope_code = self.unit.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_derived()
        if kwargs.get("update_fields") is not None:
            # Derived columns follow the fields they come from.
            fields = set(kwargs["update_fields"])
            for source, derived in _RESIDENT_DERIVED.items():
                if source in fields:
                    fields.update(derived)
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)


_RESIDENT_DERIVED = {
    "name": ("name_key", "name_pinyin", "name_initials"),
    "id_number": ("id_hash", "id_tail", "sex", "birth_date"),
    "phone": ("phone_hash",),
}


CURRENT_RESIDENT = models.Q(moved_out_on__isnull=True, deceased_on__isnull=True)


class Enterprise(PlacedModel):
    name = models.CharField(_("name"), max_length=200, validators=[validate_name])
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    address = models.CharField(_("address"), max_length=200)
    industry = models.CharField(_("industry"), max_length=50, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = EncryptedCharField(_("contact mobile number"), max_length=11, blank=True)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def contact_phone_masked(self) -> str:
        return mask_phone(self.contact_phone)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            self.credit_code = validate_credit_code(self.credit_code)
        except ValidationError as exc:
            errors["credit_code"] = exc.messages
        if self.contact_phone:
            try:
                self.contact_phone = validate_mobile(self.contact_phone)
            except ValidationError as exc:
                errors["contact_phone"] = exc.messages
        try:
            self.clean_place()
        except ValidationError as exc:
            errors.update(exc.update_error_dict({}))
        if errors:
            raise ValidationError(errors)
