"""Revealing a masked value: one field of one person, with a stated reason, always recorded.

Lists, pages, the API and exports show ID and mobile numbers masked. A user whose role has
`registry.reveal_resident` may see one of them in full for a resident in their scope by
stating why; the reveal is an audit event (who, whose, which field, reason, time, client
address, request id) written before the value is returned. A daily cap per user
(`REVEAL_DAILY_LIMIT`) stops a compromised account from harvesting numbers one by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.core.text import clean_text

from .models import Resident

if TYPE_CHECKING:
    from grassroots.accounts.models import User

REVEALABLE = {
    "id_number": gettext_lazy("ID number"),
    "phone": gettext_lazy("mobile number"),
}
REASON_MIN = 4
REASON_MAX = 500


class RevealLimitReached(PermissionDenied):
    """The user has used up today's reveals."""


def may_reveal(user: Any) -> bool:
    return bool(user is not None and user.has_perm("registry.reveal_resident"))


def reveals_today(user: User) -> int:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Event.objects.filter(action=Event.Action.REVEAL, actor_id=user.pk, at__gte=start).count()


def clean_reason(reason: Any) -> str:
    text = clean_text(reason if isinstance(reason, str) else "")
    if len(text) < REASON_MIN:
        raise ValidationError(
            {"reason": _("state the reason (at least %(n)d characters)") % {"n": REASON_MIN}}
        )
    if len(text) > REASON_MAX:
        raise ValidationError(
            {"reason": _("the reason is longer than %(n)d characters") % {"n": REASON_MAX}}
        )
    return text


def reveal(*, user: User, resident: Resident, field: str, reason: str) -> tuple[str, Event]:
    """The full value of `field` for `resident` and the event recording the reveal.

    The caller has already found `resident` through `visible_to(user)` (out of scope is 404
    before this is reached). Raises PermissionDenied without the permission or over the
    daily cap, ValidationError for an unknown field or a missing reason.
    """
    if not may_reveal(user):
        raise PermissionDenied(_("Your role may not reveal personal numbers."))
    return reveal_field(
        user=user, obj=resident, field=field, reason=reason, scope_code=resident.scope_code
    )


def reveal_field(
    *, user: User, obj: Any, field: str, reason: str, scope_code: str
) -> tuple[str, Event]:
    """The full value of `field` (an ID or mobile number) of `obj`, a person's record the caller
    found in the user's scope and checked the user may reveal: the reason cleaned, the daily
    cap (shared by every kind of record) kept, the reveal recorded before it is returned."""
    if field not in REVEALABLE:
        raise ValidationError(
            {
                "field": _("unknown field %(f)s (use one of %(all)s)")
                % {"f": field, "all": ", ".join(REVEALABLE)}
            }
        )
    text = clean_reason(reason)
    with transaction.atomic():
        limit = int(getattr(settings, "REVEAL_DAILY_LIMIT", 100))
        if reveals_today(user) >= limit:
            raise RevealLimitReached(
                _("You have revealed %(n)d values today, the daily limit; ask an administrator.")
                % {"n": limit}
            )
        event = audit.record(
            Event.Action.REVEAL,
            object_type=audit.object_type(obj),
            object_id=obj.pk,
            object_repr=audit.label(obj),
            scope_code=scope_code,
            changes={"field": field},
            reason=text,
        )
    return str(getattr(obj, field) or ""), event
