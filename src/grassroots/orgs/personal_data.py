"""What the orgs app holds about a person for the registry's personal-data requests
(registry.personal_data: a person's own copy, and anonymization): their party member record.

The copy holds the record in full (their own ID and mobile number), their organization, posts,
skills, transfers and how many meetings they attended. Anonymization keeps the record, so that
an organization's figures and its branch life do not change, and gives it the same synthetic
ID number and placeholder name as the person's resident rows; the mobile number goes, with
the grid worker account link. Each changed record is an "anonymize" audit event.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils import timezone

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.core import crypto
from grassroots.registry.personal_data import ANONYMIZED_NAME, Holder, register_holder

from .models import Member


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_members(number: str, actor: Any) -> list[dict[str, Any]]:
    members = (
        Member.objects.filter(id_hash=crypto.digest(number))
        .select_related("organization")
        .annotate(meetings=Count("attendance"))
        .order_by("pk")
    )
    return [
        {
            "record": m.pk,
            "name": m.name,
            "id_number": m.id_number,
            "phone": m.phone,
            "organization": {"code": m.organization.code, "name": m.organization.name},
            "status": m.status,
            "joined_on": _day(m.joined_on),
            "converted_on": _day(m.converted_on),
            "available": m.available,
            "posts": [
                {"post": p.post, "started_on": _day(p.started_on), "ended_on": _day(p.ended_on)}
                for p in m.posts.order_by("started_on", "pk")
            ],
            "skills": sorted(m.skills.values_list("skill", flat=True)),
            "transfers": [
                {
                    "from": t.from_organization.code,
                    "to": t.to_organization.code,
                    "on": _day(t.on),
                }
                for t in m.transfers.select_related("from_organization", "to_organization")
            ],
            "meetings_attended_or_excused": m.meetings,
        }
        for m in members
    ]


def anonymize_members(number: str, synthetic: str, actor: Any, reason: str) -> int:
    members = list(
        Member.objects.filter(id_hash=crypto.digest(number))
        .select_for_update(of=("self",))
        .select_related("organization")
    )
    for m in members:
        before = audit.snapshot(m)
        m.name = ANONYMIZED_NAME
        m.id_number = synthetic
        m.phone = ""
        m.user = None
        m.updated_at = timezone.now()
        m.save()
        audit.changed(
            m, audit.diff(before, audit.snapshot(m)), action=Event.Action.ANONYMIZE, reason=reason
        )
    return len(members)


register_holder(Holder("party_membership", export_members, anonymize_members))
