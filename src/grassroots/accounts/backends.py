"""Permissions come from the user's role; scope is applied separately by visible_to()."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from .roles import ROLE_PERMISSIONS


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        perms = set(ROLE_PERMISSIONS.get(getattr(user_obj, "role", ""), ()))
        return perms | super().get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return user_obj.is_active and any(
            p.startswith(app_label + ".") for p in self.get_all_permissions(user_obj)
        )
