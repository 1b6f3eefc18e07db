"""The admin under the one scoping mechanism.

Every ModelAdmin of a scoped model mixes in `ScopedAdminMixin`. It makes the admin read and
write only what `Model.objects.visible_to(request.user)` holds:

- lists, counts, facets, searches and actions start from that queryset (`get_queryset`);
- an object outside it answers 404 in the change, history and delete views, the way the
  API and the pages do, instead of the admin's "perhaps it was deleted" redirect;
- foreign-key choices are limited to visible rows, so nobody moves a record out of reach;
- the form checks that the record it is about to save still lies in scope, and the service
  the admin writes through checks it again inside the admin's transaction after the write
  (NetBox does the same);
- writes go through the services of the model's app (see "writes" below): the admin writes
  and records nothing itself, and shows what a service refuses on its form;
- lookups in the query string on private columns (ID and phone numbers) are refused, so a
  masked value cannot be recovered one `?id_number__startswith=` at a time;
- read-only displays show private columns masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.filters import RelatedOnlyFieldListFilter
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db import models, router, transaction
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grassroots.core.scoping import Scope

SITE_HEADER = _("Grassroots grid governance")
INDEX_TITLE = _("Registry and territory")


def brand_admin_site(site: admin.AdminSite) -> None:
    """Our name on the admin site's header, title and index page."""
    site.site_header = SITE_HEADER
    site.site_title = SITE_HEADER
    site.index_title = INDEX_TITLE
    site.site_url = "/"


def page_context(request: HttpRequest, title: Any) -> dict[str, Any]:
    """What the admin's templates expect, so that our pages look like part of the admin."""
    return {**admin.site.each_context(request), "title": title}


def has_visible_to(model: type[models.Model]) -> bool:
    return hasattr(model._default_manager, "visible_to")


class ScopedRelatedFieldListFilter(RelatedOnlyFieldListFilter):
    """A foreign-key filter offering only the related rows that occur in the scoped list.

    Django's plain RelatedFieldListFilter lists every row of the related table, which would
    name grids and units the user may not see.
    """


class RefusedForm:
    """Shows on the form what a service refused when the request first tried to save.

    The admin makes a subclass per request (see ServiceAdminMixin.get_form) that sets
    `refused`; the form is then invalid, so the page is shown again with the errors.
    """

    refused: ValidationError | None = None

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        form: Any = self
        refused = type(self).refused
        if refused is None:
            return
        errors = refused.error_dict if hasattr(refused, "error_dict") else {None: refused}
        for name, messages_ in errors.items():
            form.add_error(name if name in form.fields else None, messages_)


class ScopeCheckedForm:
    """Checks that the instance a ModelForm built lies in the user's scope.

    The admin makes a subclass per request (see ScopedAdminMixin.get_form) that sets `scope`
    and `scope_code_of`.
    """

    scope: Scope = Scope.nothing()
    scope_code_of: Callable[[Any], str | None] | None = None

    def _post_clean(self) -> None:
        # ModelForm builds the instance from cleaned data here; check it once it is built.
        super()._post_clean()  # type: ignore[misc]
        form: Any = self
        code_of = type(self).scope_code_of
        if form.errors or code_of is None:
            return
        if not self.scope.contains(code_of(form.instance)):
            form.add_error(
                None, gettext("This record would lie outside your scope; choose a place in it.")
            )


class SealedFieldsForm:
    """Personal numbers never travel to the browser in an edit form.

    On a change form each field in `sealed_fields` (name -> masking function) starts empty,
    with the stored value shown masked beside it; left empty, the stored value is kept, and a
    value typed in replaces it. Seeing the full value is a reveal, with a reason and a record
    (see registry.privacy).
    """

    sealed_fields: dict[str, Callable[[str], str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form: Any = self
        if form.instance.pk is None:
            return
        for name, mask in self.sealed_fields.items():
            field = form.fields.get(name)
            if field is None:
                continue
            stored = getattr(form.instance, name) or ""
            form.initial[name] = ""
            field.required = False
            if stored:
                field.widget.attrs["placeholder"] = mask(stored)
                field.help_text = gettext(
                    "Stored: %(masked)s. Leave empty to keep it; type a new value to replace it."
                ) % {"masked": mask(stored)}
            field.widget.attrs["autocomplete"] = "off"

    def clean(self) -> dict[str, Any]:
        form: Any = self
        data: dict[str, Any] = super().clean()  # type: ignore[misc]
        if form.instance.pk is not None:
            for name in self.sealed_fields:
                if name in form.fields and name not in form.errors and not data.get(name):
                    data[name] = getattr(form.instance, name)
        return data


class ServiceAdminMixin:
    """Mix into a ModelAdmin whose writes go through services (every writable one does)."""

    def get_form(self, request: HttpRequest, obj: Any = None, *args: Any, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, *args, **kwargs)  # type: ignore[misc]

        class Form(RefusedForm, form):  # type: ignore[misc, valid-type]
            pass

        Form.refused = getattr(request, "_write_refused", None)
        Form.__name__ = form.__name__
        return Form

    # --- writes --------------------------------------------------------------------------
    # Every write goes through the services of the model's app, which validate, save,
    # re-check the scope after the write and record the audit event inside the admin's
    # transaction. A ModelAdmin names them by overriding create_object, update_object and
    # delete_objects (and save_inline_rows for an inline that writes); the admin itself writes
    # nothing and records nothing. A ValidationError a service raises is shown on the form
    # (or as a message for a deletion or an action) and everything the request wrote is
    # rolled back.

    def create_object(self, request: HttpRequest, obj: Any, form: Any) -> Any:
        """Create the record `form` built as `obj` through a service; return the saved row."""
        raise ImproperlyConfigured(f"{type(self).__name__} names no service to create with")

    def update_object(self, request: HttpRequest, obj: Any, form: Any) -> Any:
        """Write the changes `form` made to `obj` through a service; return the saved row."""
        raise ImproperlyConfigured(f"{type(self).__name__} names no service to update with")

    def delete_objects(self, request: HttpRequest, objects: list[Any]) -> None:
        """Delete `objects` (one, or the selection of an action) through a service."""
        raise ImproperlyConfigured(f"{type(self).__name__} names no service to delete with")

    def save_inline_rows(self, request: HttpRequest, form: Any, formset: Any) -> None:
        """Write what an inline formset changed through a service (and set the formset's
        new_objects, changed_objects and deleted_objects, as formset.save() does)."""
        raise ImproperlyConfigured(f"{type(self).__name__} names no service for {formset.prefix}")

    @staticmethod
    def actor(request: HttpRequest) -> Any:
        """The user the services act for."""
        return request.user

    @staticmethod
    def form_values(obj: Any, form: Any, fields: Sequence[str]) -> dict[str, Any]:
        """The values among `fields` that the form set on `obj` (all of them without a form)."""
        return {
            name: getattr(obj, name)
            for name in fields
            if form is None or name in getattr(form, "cleaned_data", {})
        }

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with refusals():
            saved = (
                self.update_object(request, obj, form)
                if change
                else self.create_object(request, obj, form)
            )
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with refusals():
            self.delete_objects(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with refusals():
            self.delete_objects(request, list(queryset))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if not formset.deleted_forms and not any(
            f.has_changed() for f in formset.forms if f not in formset.deleted_forms
        ):
            # A read-only inline, or nothing changed in it (the change message reads these).
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        with refusals():
            self.save_inline_rows(request, form, formset)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with refusals():
            super().save_related(request, form, formsets, change)  # type: ignore[misc]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        view = super().changeform_view  # type: ignore[misc]
        try:
            return view(request, object_id, form_url, extra_context)
        except WriteRefused as refused:
            # The admin's transaction is rolled back. The form is validated again with the
            # refusal among its errors, which shows it and leaves nothing to save.
            request._write_refused = refused.error  # type: ignore[attr-defined]
            return view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except WriteRefused as refused:
            self.message_user(request, refused.text, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())

    def response_action(
        self, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # Actions run outside the admin's transactions: one here rolls back a refused one.
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):  # type: ignore[attr-defined]
                return super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]
        except WriteRefused as refused:
            self.message_user(request, refused.text, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())


class ScopedAdminMixin(ServiceAdminMixin):
    """Mix into a ModelAdmin or InlineModelAdmin whose model's manager has `visible_to`.

    `private_fields` maps a private model field to the name of an admin method showing it
    masked; list displays should name the masked method, never the field.
    """

    private_fields: dict[str, str] = {}
    # Extra filters on the choices of foreign keys, e.g. {"unit": {"level": "village"}}.
    fk_choice_filters: dict[str, dict[str, Any]] = {}

    # --- reads ---------------------------------------------------------------------------

    def visible_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        """The rows this user may see: where every read of the admin starts."""
        return self.model._default_manager.visible_to(request.user)  # type: ignore[attr-defined]

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = self.visible_queryset(request)
        ordering = self.get_ordering(request)  # type: ignore[attr-defined]
        if ordering:
            qs = qs.order_by(*ordering)
        if isinstance(self, admin.options.InlineModelAdmin) and not (
            self.has_view_or_change_permission(request)
        ):
            qs = qs.none()
        return qs

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> Any:
        # Objects out of scope are indistinguishable from objects that do not exist: 404.
        raise Http404(gettext("No such record."))

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest | None = None) -> bool:
        if lookup.split("__")[0] in self.private_fields:
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        """List filters with every foreign-key filter limited to the scoped rows."""
        result: list[Any] = []
        for item in super().get_list_filter(request):  # type: ignore[misc]
            if isinstance(item, str):
                try:
                    field = self.model._meta.get_field(item)  # type: ignore[attr-defined]
                except FieldDoesNotExist:
                    field = None
                if field is not None and field.is_relation:
                    item = (item, ScopedRelatedFieldListFilter)
            result.append(item)
        return result

    # --- forms ---------------------------------------------------------------------------

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        related: Any = db_field.remote_field.model
        if "queryset" not in kwargs and has_visible_to(related):
            qs = related._default_manager.visible_to(request.user)
            extra = self.fk_choice_filters.get(db_field.name)
            if extra:
                qs = qs.filter(**extra)
            site = self.admin_site  # type: ignore[attr-defined]
            ordering = (
                site.get_model_admin(related).get_ordering(request)
                if site.is_registered(related)
                else None
            )
            kwargs["queryset"] = qs.order_by(*ordering) if ordering else qs
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def scope_code_of(self, obj: Any) -> str | None:
        """The territory code `obj` will carry once saved (models compute theirs in save())."""
        return getattr(obj, "scope_code", None)

    def get_form(self, request: HttpRequest, obj: Any = None, *args: Any, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, *args, **kwargs)  # type: ignore[misc]
        return self._scope_checked(form, request)

    def _scope_checked(self, form: type[Any], request: HttpRequest) -> type[Any]:
        scope_code_of = self.scope_code_of

        class Form(ScopeCheckedForm, form):  # type: ignore[misc, valid-type]
            pass

        Form.scope = Scope.for_user(request.user)
        Form.scope_code_of = staticmethod(scope_code_of)  # type: ignore[assignment]
        Form.user = request.user  # type: ignore[attr-defined]
        Form.__name__ = form.__name__
        return Form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        # Django appends the read-only displays after the form's fields: a masked display
        # already swapped in for its field is not shown a second time at the end.
        return list(dict.fromkeys(self._mask_when_read_only(request, obj, fields)))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if not self.private_fields or self._can_change(request, obj):
            return fieldsets
        return [
            (
                name,
                {**options, "fields": self._mask_when_read_only(request, obj, options["fields"])},
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if not self._can_change(request, obj):
            readonly += [m for m in self.private_fields.values() if m not in readonly]
        return readonly

    def _can_change(self, request: HttpRequest, obj: Any) -> bool:
        if isinstance(self, admin.options.InlineModelAdmin):
            return self.has_change_permission(request, obj)
        if obj is None:
            return self.has_add_permission(request)  # type: ignore[attr-defined]
        return self.has_change_permission(request, obj)  # type: ignore[attr-defined]

    def _mask_when_read_only(
        self, request: HttpRequest, obj: Any, fields: Sequence[Any]
    ) -> list[Any]:
        """Private fields swapped for their masked display when the form cannot be edited."""
        if not self.private_fields or self._can_change(request, obj):
            return list(fields)
        return [self.private_fields.get(f, f) if isinstance(f, str) else f for f in fields]


class WriteRefused(Exception):
    """A service refused a write of the admin (its ValidationError is `error`)."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error

    @property
    def text(self) -> str:
        return " ".join(self.error.messages)


@contextmanager
def refusals() -> Iterator[None]:
    """A service's ValidationError becomes WriteRefused, which the admin's views show."""
    try:
        yield
    except ValidationError as exc:
        raise WriteRefused(exc) from exc


def adopt(obj: Any, saved: Any) -> None:
    """The admin's instance takes the values of the row a service saved (the admin goes on
    with it: inlines, the change message, the redirect)."""
    if saved is None or saved is obj:
        return
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db
