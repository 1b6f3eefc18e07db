"""Admin for the registry: households, residents, enterprises and the tag vocabulary.

Lists show ID and phone numbers masked, searches never reach past the user's scope, and
sensitive tags (特殊人群) are absent for everyone not granted them (selectors.may_see_sensitive_tags).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Replace
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import (
    ScopedAdminMixin,
    SealedFieldsForm,
    ServiceAdminMixin,
    brand_admin_site,
)
from grassroots.core.text import search_text
from grassroots.core.validators import mask_id_number, mask_phone
from grassroots.territory.models import Grid, Unit

from . import services
from .models import (
    CURRENT_RESIDENT,
    TAG_SEPARATOR,
    Enterprise,
    Household,
    Resident,
    Tag,
    join_tags,
    split_tags,
)
from .privacy import (
    REASON_MAX,
    REVEALABLE,
    RevealLimitReached,
    may_reveal,
    reveal,
    reveals_today,
)
from .selectors import may_see_sensitive_tags, resident_search_q, visible_tag_names

brand_admin_site(admin.site)

VILLAGE_UNITS = {"unit": {"level": Unit.Level.VILLAGE}}


def visible_tags_expression(user: Any) -> Any:
    """The `tags` column without the tags `user` may not see, as a database expression."""
    expression: Any = F("tags")
    if may_see_sensitive_tags(user):
        return expression
    for name in Tag.objects.filter(kind=Tag.Kind.SENSITIVE).values_list("name", flat=True):
        expression = Replace(expression, Value(join_tags([name])), Value(TAG_SEPARATOR))
    return expression


class TagFilter(admin.SimpleListFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in visible_tag_names(request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value or value not in visible_tag_names(request.user):
            return queryset
        return queryset.filter(tags__contains=join_tags([value]))


class GridKindFilter(admin.SimpleListFilter):
    title = _("grid kind")
    parameter_name = "grid_kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return Grid.Kind.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in Grid.Kind.values:
            return queryset.filter(grid__kind=self.value())
        return queryset


class TaggedForm(forms.ModelForm):
    """Tags chosen from the vocabulary; tags the user may not see are kept as they were."""

    tags = forms.MultipleChoiceField(
        label=_("tags"), required=False, widget=forms.CheckboxSelectMultiple
    )
    user: Any = None  # set per request by ScopedAdminMixin.get_form

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "tags" not in self.fields:
            return
        allowed = visible_tag_names(self.user)
        current = split_tags(self.instance.tags or "")
        field = self.fields["tags"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, name) for name in allowed]
        self.initial["tags"] = [t for t in current if t in allowed]
        self._kept_tags = [t for t in current if t not in allowed]

    def clean_tags(self) -> str:
        return join_tags([*self.cleaned_data.get("tags", []), *self._kept_tags])


class UnitFollowsForm(forms.ModelForm):
    """The village/community of a row follows its grid (or household) when one is chosen."""

    unit_source = "grid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "unit" in self.fields:
            self.fields["unit"].required = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        source = data.get(self.unit_source)
        if source is not None:
            data["unit"] = source.unit
        elif "unit" in self.fields and not data.get("unit") and "unit" not in self.errors:
            self.add_error("unit", self.unit_required_message())
        return data

    def unit_required_message(self) -> str:
        return gettext("Choose a grid or a village/community.")


class HouseholdForm(TaggedForm, UnitFollowsForm):
    class Meta:
        model = Household
        fields = services.HOUSEHOLD_FIELDS  # what household_create and household_update write
        help_texts = {"unit": _("Taken from the grid when a grid is chosen.")}


class ResidentForm(SealedFieldsForm, TaggedForm, UnitFollowsForm):
    unit_source = "household"
    sealed_fields = {"id_number": mask_id_number, "phone": mask_phone}

    class Meta:
        model = Resident
        fields = services.RESIDENT_FIELDS
        help_texts = {
            "unit": _("Taken from the household when a household is chosen."),
            "id_number": _("18 characters; birth date and sex are read from it."),
        }

    def unit_required_message(self) -> str:
        return gettext("Choose a household or a village/community.")


class EnterpriseForm(SealedFieldsForm, UnitFollowsForm):
    sealed_fields = {"contact_phone": mask_phone}

    class Meta:
        model = Enterprise
        fields = services.ENTERPRISE_FIELDS
        help_texts = {"unit": _("Taken from the grid when a grid is chosen.")}


class RevealForm(forms.Form):
    field = forms.ChoiceField(
        label=_("Which number"),
        choices=[(k, v) for k, v in REVEALABLE.items()],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why you need the full number, e.g. to call the family about a visit."),
    )


def territory_code(obj: Any) -> str | None:
    """The scope code a household or enterprise gets on save: its grid's, else its unit's."""
    if obj.grid_id:
        return obj.grid.code
    return obj.unit.code if obj.unit_id else None


class TagDisplayMixin:
    """A tags column that hides sensitive tags; `tags` itself is never shown raw.

    List cells get no request, so the tags a user may see are computed in the query: the
    stored "|a|b|" string with every hidden tag cut out.
    """

    private_fields = {"tags": "tag_display"}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.annotate(visible_tags=visible_tags_expression(request.user))

    @admin.display(description=_("tags"))
    def tag_display(self, obj: Any) -> str:
        return "、".join(split_tags(getattr(obj, "visible_tags", "")))


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("current", _("Current")), ("moved", _("Moved out")), ("deceased", _("Deceased"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        match self.value():
            case "current":
                return queryset.filter(CURRENT_RESIDENT)
            case "moved":
                return queryset.filter(moved_out_on__isnull=False, deceased_on__isnull=True)
            case "deceased":
                return queryset.filter(deceased_on__isnull=False)
        return queryset


def resident_status(obj: Resident) -> str:
    if obj.deceased_on:
        return gettext("Deceased")
    if obj.moved_out_on:
        return gettext("Moved out")
    return gettext("Current")


class MemberInline(ScopedAdminMixin, admin.TabularInline):
    """The members of a household, read-only and masked; edit them on their own pages."""

    model = Resident
    fk_name = "household"
    fields = ("name", "masked_id_number", "sex", "birth_date", "relation", "residency", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Resident) -> str:
        return obj.id_number_masked

    @admin.display(description=_("status"))
    def status(self, obj: Resident) -> str:
        return resident_status(obj)


@admin.register(Household)
class HouseholdAdmin(TagDisplayMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = HouseholdForm
    list_display = ("code", "address", "grid", "unit", "tag_display", "member_count")
    list_filter = (GridKindFilter, TagFilter, ("grid", admin.EmptyFieldListFilter))
    list_select_related = ("grid", "unit")
    search_fields = ("^code", "address")
    search_help_text = _("Household code (beginning) or part of the address")
    fk_choice_filters = VILLAGE_UNITS
    fieldsets = (
        (None, {"fields": ("code", "address", "building", "unit_no", "room")}),
        (_("Place"), {"fields": ("grid", "unit", "lon", "lat")}),
        (_("Tags"), {"fields": ("tags",)}),
    )
    inlines = [MemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Household]:
        members = (
            Resident.objects.filter(CURRENT_RESIDENT, household=OuterRef("pk"))
            .order_by()
            .values("household")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(member_count=Coalesce(Subquery(members), 0))

    @admin.display(description=_("current members"), ordering="member_count")
    def member_count(self, obj: Household) -> int:
        return obj.member_count  # type: ignore[attr-defined]

    def scope_code_of(self, obj: Household) -> str | None:
        return territory_code(obj)

    # A household moved to another grid takes its members along (household_update).
    def create_object(self, request: HttpRequest, obj: Household, form: Any) -> Household:
        data = self.form_values(obj, form, services.HOUSEHOLD_FIELDS)
        return services.household_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Household, form: Any) -> Household:
        data = self.form_values(obj, form, services.HOUSEHOLD_FIELDS)
        return services.household_update(
            actor=self.actor(request),
            household=obj.pk,
            data=data,
        )

    def delete_objects(self, request: HttpRequest, objects: list[Household]) -> None:
        services.households_delete(actor=self.actor(request), households=objects)


@admin.register(Resident)
class ResidentAdmin(TagDisplayMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = ResidentForm
    list_display = (
        "name",
        "masked_id_number",
        "sex",
        "birth_date",
        "masked_phone",
        "household",
        "relation",
        "residency",
        "status",
    )
    list_filter = ("residency", "sex", TagFilter, StatusFilter)
    list_select_related = ("household",)
    # The search is ours (get_search_results); this only shows the search box.
    search_fields = ("name",)
    search_help_text = _(
        "Name, pinyin, initials (e.g. zgj), or the last 4 or more characters of the ID number"
    )
    autocomplete_fields = ("household",)
    fk_choice_filters = VILLAGE_UNITS
    private_fields = {
        "id_number": "masked_id_number",
        "phone": "masked_phone",
        "tags": "tag_display",
    }
    fieldsets = (
        (None, {"fields": ("name", "id_number", "sex", "birth_date", "phone")}),
        (_("Household"), {"fields": ("household", "relation", "residency", "unit")}),
        (_("Status"), {"fields": ("moved_out_on", "deceased_on")}),
        (_("Tags"), {"fields": ("tags",)}),
    )
    readonly_fields = ("sex", "birth_date")

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Resident) -> str:
        return obj.id_number_masked

    @admin.display(description=_("mobile number"))
    def masked_phone(self, obj: Resident) -> str:
        return obj.phone_masked

    # --- reveal with a reason ------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        reveal_url = path(
            "<int:object_id>/reveal/",
            self.admin_site.admin_view(self.reveal_view),
            name="registry_resident_reveal",
        )
        return [reveal_url, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "may_reveal": may_reveal(request.user)}
        return super().change_view(request, object_id, form_url, extra)

    def reveal_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """A form asking which number and why; the answer shows the number once, recorded."""
        resident = self.get_object(request, str(object_id))
        if resident is None:
            raise Http404(gettext("No such record."))
        if not (self.has_view_permission(request, resident) and may_reveal(request.user)):
            raise PermissionDenied
        user: Any = request.user
        form = RevealForm(request.POST or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Reveal a number of %(resident)s") % {"resident": resident},
            "resident": resident,
            "form": form,
            "value": None,
        }
        if request.method == "POST" and form.is_valid():
            field = form.cleaned_data["field"]
            try:
                value, event = reveal(
                    user=user, resident=resident, field=field, reason=form.cleaned_data["reason"]
                )
            except RevealLimitReached as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                context.update(value=value, event=event, field_label=REVEALABLE[field])
        limit = int(getattr(settings, "REVEAL_DAILY_LIMIT", 100))
        context["left"] = max(limit - reveals_today(user), 0)
        response = TemplateResponse(request, "admin/registry/resident/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description=_("status"))
    def status(self, obj: Resident) -> str:
        return resident_status(obj)

    def scope_code_of(self, obj: Resident) -> str | None:
        if obj.household_id:
            return obj.household.scope_code if obj.household else None
        return obj.unit.code if obj.unit_id else None

    def create_object(self, request: HttpRequest, obj: Resident, form: Any) -> Resident:
        data = self.form_values(obj, form, services.RESIDENT_FIELDS)
        return services.resident_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Resident, form: Any) -> Resident:
        data = self.form_values(obj, form, services.RESIDENT_FIELDS)
        return services.resident_update(
            actor=self.actor(request),
            resident=obj.pk,
            data=data,
        )

    def delete_objects(self, request: HttpRequest, objects: list[Resident]) -> None:
        services.residents_delete(actor=self.actor(request), residents=objects)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Resident], search_term: str
    ) -> tuple[QuerySet[Resident], bool]:
        """Every word must match a name (characters, pinyin, initials) or an ID number's end.

        Names are compared in their stored search form (simplified, no spaces), so traditional
        characters and full-width letters find the same people. Numbers match on the last
        characters of the ID number, through the indexed four-character tail.
        """
        words = search_term.split()
        if len(words) > 1 and "".join(words).isascii() and "".join(words).isalpha():
            words = ["".join(words)]  # "zhao guang ju" is one name in pinyin
        for word in words:
            queryset = queryset.filter(self._word_condition(word))
        return queryset, False

    @staticmethod
    def _word_condition(word: str) -> Q:
        # The same matching as the API's search: one definition of "finds this person".
        return resident_search_q(word) if search_text(word) else Q()


@admin.register(Enterprise)
class EnterpriseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = EnterpriseForm
    list_display = (
        "name",
        "credit_code",
        "industry",
        "grid",
        "unit",
        "contact_name",
        "masked_contact_phone",
    )
    list_filter = ("industry",)
    list_select_related = ("grid", "unit")
    search_fields = ("name", "^credit_code", "address")
    fk_choice_filters = VILLAGE_UNITS
    private_fields = {"contact_phone": "masked_contact_phone"}
    fieldsets = (
        (None, {"fields": ("name", "credit_code", "industry", "address")}),
        (_("Contact"), {"fields": ("contact_name", "contact_phone")}),
        (_("Place"), {"fields": ("grid", "unit", "lon", "lat")}),
    )

    @admin.display(description=_("contact mobile number"))
    def masked_contact_phone(self, obj: Enterprise) -> str:
        return obj.contact_phone_masked

    def scope_code_of(self, obj: Enterprise) -> str | None:
        return territory_code(obj)

    def create_object(self, request: HttpRequest, obj: Enterprise, form: Any) -> Enterprise:
        data = self.form_values(obj, form, services.ENTERPRISE_FIELDS)
        return services.enterprise_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Enterprise, form: Any) -> Enterprise:
        data = self.form_values(obj, form, services.ENTERPRISE_FIELDS)
        return services.enterprise_update(
            actor=self.actor(request),
            enterprise=obj.pk,
            data=data,
        )

    def delete_objects(self, request: HttpRequest, objects: list[Enterprise]) -> None:
        services.enterprises_delete(actor=self.actor(request), enterprises=objects)


@admin.register(Tag)
class TagAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """The tag vocabulary is shared by the whole deployment: it holds no one's data."""

    list_display = ("name", "kind", "description")
    list_filter = ("kind",)
    search_fields = ("name",)

    def create_object(self, request: HttpRequest, obj: Tag, form: Any) -> Tag:
        data = self.form_values(obj, form, services.TAG_FIELDS)
        return services.tag_create(actor=self.actor(request), data=data)

    def update_object(self, request: HttpRequest, obj: Tag, form: Any) -> Tag:
        data = self.form_values(obj, form, services.TAG_FIELDS)
        return services.tag_update(actor=self.actor(request), tag=obj.pk, data=data)

    def delete_objects(self, request: HttpRequest, objects: list[Tag]) -> None:
        services.tags_delete(actor=self.actor(request), tags=objects)
