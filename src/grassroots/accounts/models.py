"""Users, their role and territory scope, grid assignments and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.audit import services as audit
from grassroots.audit.context import current
from grassroots.core.crypto import EncryptedCharField
from grassroots.core.scoping import ScopedQuerySet

from .roles import Role


class UserQuerySet(ScopedQuerySet["User"]):
    pass


# BaseUserManager: AbstractUser.clean() (run by every user form) calls normalize_email().
class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> User:
        return self.get(username=username)

    def create_user(self, username: str, password: str | None = None, **extra: object) -> User:
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: object
    ) -> User:
        extra.setdefault("role", Role.COUNTY_ADMIN)
        extra.setdefault("scope_code", "")
        return self.create_user(
            username, password, email=email or "", is_staff=True, is_superuser=True, **extra
        )


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=24, choices=Role.choices, blank=True)
    # The territory code this user works under: a unit code, or for a grid worker a grid code
    # (their further grids are in GridAssignment). Users are scoped rows too: an official
    # sees the accounts under their own node.
    scope_code = models.CharField(_("scope"), max_length=15, blank=True, db_index=True)
    phone = EncryptedCharField(_("mobile number"), max_length=11, blank=True)
    # For department handlers: the county department they work in (matches Category.department).
    department = models.CharField(_("department"), max_length=100, blank=True)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def scope_codes(self) -> list[str]:
        """The territory codes whose subtrees this user may see (cached on this object)."""
        if self.role != Role.GRID_WORKER:
            return [self.scope_code] if self.scope_code else []
        cached: list[str] | None = getattr(self, "_grid_codes", None)
        if cached is None:
            cached = sorted(self.grid_assignments.values_list("grid__code", flat=True))
            self._grid_codes = cached
        return list(cached)

    def forget_scope(self) -> None:
        """Drop the cached grid codes after assignments change."""
        self.__dict__.pop("_grid_codes", None)

    @property
    def credentials_guarded(self) -> bool:
        """Whether only a superuser (or the operator) may change this account's credentials:
        an auditor's, who oversees the administrators, and a superuser's."""
        return bool(self.is_superuser or self.role == Role.AUDITOR)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a changed password or a deactivation of an existing account is also recorded.

        Whatever the door (the admin's password and user pages, `grassroots changepassword`,
        a script), a password set, reset or disabled, and an account deactivated, is a
        "credentials" event in the audit trail in the same transaction: who, whom, when, never
        the password. Done by anyone but the account's own user, it also revokes the account's
        API tokens; its signed-in sessions end by themselves (their hash of the password no
        longer matches; an inactive account's session is refused). A non-superuser may not
        change the credentials of a guarded account (see credentials_guarded).
        """
        update_fields = kwargs.get("update_fields")
        password = self._password_change(update_fields)
        deactivated = self._deactivation(update_fields)
        if password is None and not deactivated:
            super().save(*args, **kwargs)
            return
        actor = current().acting_user()
        by_other = actor is None or actor.pk != self.pk
        if by_other and actor is not None and self.credentials_guarded and not actor.is_superuser:
            raise PermissionDenied(_("Only a superuser may change this account's credentials."))
        details: dict[str, Any] = {}
        if password == "set":
            details["password"] = "reset by another user" if by_other else "changed by the user"
        elif password == "disabled":
            details["password"] = "disabled"
        if deactivated:
            details["account"] = "deactivated"
        with transaction.atomic():
            super().save(*args, **kwargs)
            if by_other or deactivated:
                details["api_tokens_revoked"] = ApiToken.revoke_all(self)
            audit.record(
                audit.Event.Action.CREDENTIALS,
                object_type=audit.object_type(self),
                object_id=self.pk,
                object_repr=audit.label(self),
                scope_code=audit.scope_of(self),
                changes=details,
            )

    def _stored(self, field: str) -> Any:
        return User.objects.filter(pk=self.pk).values_list(field, flat=True).first()

    def _password_change(self, update_fields: Any) -> str | None:
        """ "set" or "disabled" when this save stores a new password of an existing account."""
        if self._state.adding or self.pk is None:
            return None
        if update_fields is not None and "password" not in update_fields:
            return None
        if getattr(self, "_password", None) is not None:  # set_password() since the last save
            return "set"
        if not self.has_usable_password():
            stored = self._stored("password")
            if stored is not None and stored != self.password:
                return "disabled"
        return None

    def _deactivation(self, update_fields: Any) -> bool:
        """Whether this save turns an active existing account inactive."""
        if self._state.adding or self.pk is None or self.is_active:
            return False
        if update_fields is not None and "is_active" not in update_fields:
            return False
        return bool(self._stored("is_active"))


class GridAssignment(models.Model):
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="grid_assignments"
    )
    grid = models.ForeignKey(
        "territory.Grid",
        verbose_name=_("grid"),
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)

    class Meta:
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "grid"], name="gridassignment_unique")
        ]

    @property
    def audit_scope(self) -> str:
        return str(self.grid.code)

    def __str__(self) -> str:
        return f"{self.user} → {self.grid}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=8)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    @property
    def audit_scope(self) -> str:
        return str(self.user.scope_code)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user: User, *, days: int | None = None) -> tuple[ApiToken, str]:
        """A new token for `user`, valid `days` days (default settings.API_TOKEN_DAYS)."""
        lifetime = settings.API_TOKEN_DAYS if days is None else days
        token = "gr_" + secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user,
            digest=hash_token(token),
            prefix=token[:8],
            expires_at=timezone.now() + timedelta(days=lifetime),
        )
        return row, token

    @classmethod
    def revoke_all(cls, user: User) -> int:
        """Revoke every live token of `user`; returns how many were live."""
        return cls.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )

    @classmethod
    def authenticate(cls, token: str) -> User | None:
        row = (
            cls.objects.select_related("user")
            .filter(digest=hash_token(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        now = timezone.now()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=row.pk).update(last_used_at=now)
        return row.user
