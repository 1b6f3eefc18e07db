"""Admin for users, their grid assignments and API tokens.

An official sees and manages the accounts under their own node. Superuser status, groups and
per-user permissions are for superusers only: roles are where permissions come from.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from grassroots.core.admin_support import ScopedAdminMixin, SealedFieldsForm, refusals
from grassroots.core.validators import mask_phone
from grassroots.territory.models import Grid, Unit

from . import services
from .models import ApiToken, GridAssignment, User
from .roles import Role
from .two_factor import record_devices_change


class RoleScopeFormMixin:
    """A user's scope must name a unit they may see, or for a grid worker a grid."""

    user: Any = None  # set per request by ScopedAdminMixin.get_form

    def clean(self) -> dict[str, Any]:
        form: Any = self
        super().clean()  # type: ignore[misc]
        data: dict[str, Any] = form.cleaned_data
        role, code = data.get("role"), data.get("scope_code")
        if "scope_code" not in form.fields or not code:
            return data
        if role == Role.GRID_WORKER:
            if not Grid.objects.visible_to(self.user).filter(code=code).exists():
                form.add_error(
                    "scope_code",
                    gettext("A grid worker's scope is one of their grids: no grid %(code)s.")
                    % {"code": code},
                )
        elif not Unit.objects.visible_to(self.user).filter(code=code).exists():
            form.add_error(
                "scope_code",
                gettext("No county, town or village with code %(code)s in your scope.")
                % {"code": code},
            )
        return data


class UserForm(SealedFieldsForm, RoleScopeFormMixin, UserChangeForm):
    sealed_fields = {"phone": mask_phone}


class UserCreationForm(RoleScopeFormMixin, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)


class GridAssignmentInline(ScopedAdminMixin, admin.TabularInline):
    model = GridAssignment
    fields = ("grid", "assigned_at")
    # The time of the assignment is when accounts.services.grid_assign made it.
    readonly_fields = ("assigned_at",)
    extra = 0

    def visible_queryset(self, request: HttpRequest) -> QuerySet[GridAssignment]:
        return GridAssignment.objects.filter(grid__in=Grid.objects.visible_to(request.user))


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    form = UserForm
    add_form = UserCreationForm
    list_display = (
        "username",
        "full_name",
        "role",
        "scope_code",
        "masked_phone",
        "is_active",
        "last_login",
    )
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "first_name", "last_name", "^scope_code")
    private_fields = {"phone": "masked_phone"}
    inlines = [GridAssignmentInline]

    def visible_queryset(self, request: HttpRequest) -> QuerySet[User]:
        users = User.objects.visible_to(request.user)
        if not request.user.is_superuser:
            users = users.exclude(is_superuser=True)
        return users

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An auditor oversees the administrators: only a superuser changes their account,
        # password included (the password page asks this too). They stay visible, read-only.
        user: Any = request.user
        if (
            obj is not None
            and obj.credentials_guarded
            and obj.pk != user.pk
            and not user.is_superuser
        ):
            return False
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        if obj is None:
            return (
                *self.add_fieldsets,
                (_("Role and scope"), {"classes": ("wide",), "fields": ("role", "scope_code")}),
            )
        permissions: tuple[str, ...] = ("is_active", "is_staff")
        if request.user.is_superuser:
            permissions += ("is_superuser", "groups", "user_permissions")
        fieldsets = (
            (None, {"fields": ("username", "password")}),
            (_("Personal info"), {"fields": ("first_name", "last_name", "email", "phone")}),
            (_("Role and scope"), {"fields": ("role", "scope_code")}),
            (_("Permissions"), {"fields": permissions}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        )
        if self._can_change(request, obj):
            return fieldsets
        return [
            (name, {**opts, "fields": self._mask_when_read_only(request, obj, opts["fields"])})
            for name, opts in fieldsets
        ]

    @admin.display(description=_("name"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description=_("mobile number"))
    def masked_phone(self, obj: User) -> str:
        return mask_phone(obj.phone)

    # --- writes, through accounts.services ---------------------------------------------

    def create_object(self, request: HttpRequest, obj: User, form: Any) -> User:
        return services.user_save(actor=self.actor(request), user=obj)

    def update_object(self, request: HttpRequest, obj: User, form: Any) -> User:
        return services.user_save(actor=self.actor(request), user=obj)

    def delete_objects(self, request: HttpRequest, objects: list[User]) -> None:
        services.users_delete(actor=self.actor(request), users=objects)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        user = form.instance
        access = {
            name: form.cleaned_data[name]
            for name in ("groups", "user_permissions")
            if name in form.cleaned_data
        }
        with refusals():
            if access:
                services.user_access_set(user=user, **access)
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)
            services.grid_assign_scope(user=user)

    def save_inline_rows(self, request: HttpRequest, form: Any, formset: Any) -> None:
        """The grid assignments inline: rows added, deleted or pointed at another grid."""
        user = form.instance
        deleted = [f.instance for f in formset.deleted_forms if f.instance.pk]
        kept = [f for f in formset.forms if f not in formset.deleted_forms and f.has_changed()]
        changed = [f.instance for f in kept if f.instance.pk]
        added = [f.instance for f in kept if not f.instance.pk]
        stored = dict(
            GridAssignment.objects.filter(pk__in=[a.pk for a in deleted + changed]).values_list(
                "pk", "grid_id"
            )
        )
        unassign = [stored[a.pk] for a in deleted + changed if a.pk in stored]
        assign = [a.grid for a in changed + added]
        if unassign:
            services.grid_unassign(user=user, grids=list(Grid.objects.filter(pk__in=unassign)))
        if assign:
            services.grid_assign(user=user, grids=assign)
        formset.new_objects = added
        formset.changed_objects = [(a, ["grid"]) for a in changed]
        formset.deleted_objects = deleted


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Tokens are issued by the `users` command or the API; here they are listed and revoked."""

    list_display = ("prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("^prefix", "user__username")
    fields = ("prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def visible_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        users = User.objects.visible_to(request.user)
        if not request.user.is_superuser:
            users = users.exclude(is_superuser=True).exclude(role=Role.AUDITOR)
        return ApiToken.objects.filter(user__in=users)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def scope_code_of(self, obj: ApiToken) -> str | None:
        return obj.user.scope_code

    def update_object(self, request: HttpRequest, obj: ApiToken, form: Any) -> ApiToken:
        return obj  # every field is read-only: there is nothing to write

    def delete_objects(self, request: HttpRequest, objects: list[ApiToken]) -> None:
        services.tokens_delete(tokens=objects)

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = services.token_revoke(tokens=queryset)
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )


class AuditedTOTPDeviceAdmin(TOTPDeviceAdmin):
    """django-otp's device admin (superusers only: no role carries its permissions), with
    every removal, addition and change of a device recorded like `users otp-reset`."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = TOTPDevice.objects.filter(user=obj.user, confirmed=True).count()
        super().save_model(request, obj, form, change)
        record_devices_change(
            obj.user, before, TOTPDevice.objects.filter(user=obj.user, confirmed=True).count()
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, TOTPDevice.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            users = {device.user for device in queryset.select_related("user")}
            before = {
                u.pk: TOTPDevice.objects.filter(user=u, confirmed=True).count() for u in users
            }
            queryset.delete()
            for u in users:
                after = TOTPDevice.objects.filter(user=u, confirmed=True).count()
                record_devices_change(u, before[u.pk], after)


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, AuditedTOTPDeviceAdmin)
