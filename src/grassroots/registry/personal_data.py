"""Personal-data requests (PIPL art. 45 and 47): a person's own copy, and anonymization.

A person is found by their ID number through its keyed hash; merged registers can hold them in
more than one resident row, and both requests act on every row the actor may see.

Anonymization keeps the resident rows, so coverage counts, household sizes and age statistics
do not change, and removes what identifies the person:

- the name becomes ANONYMIZED_NAME, a fixed constant (stored data does not depend on the
  language of whoever ran the command), and the name search keys are emptied;
- the ID number becomes a synthetic one, drawn at random: region code "00" plus four random
  digits (no real region code starts with 00, so it cannot collide with a real number), the
  birth year of the person with 1 January as the day, a random sequence whose parity keeps
  their sex, and a correct check character. It is a valid number for every rule of the model
  (`Resident.fill_derived` and `clean` parse it as they parse any other), age statistics by
  year of birth stay exact, and nothing about it is derived from the old number, so nothing
  can reverse it, not even someone holding the keys. Every row of the person gets the same
  synthetic number, so the "ID number held by more than one resident" count stays as it was;
- the mobile number is removed, with its keyed hash;
- only care tags (关爱对象) stay: they feed assistance statistics. Sensitive and other tags go.

Audit events recorded before stay as they are (append-only); they hold masked values only.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import current
from grassroots.audit.models import Event
from grassroots.core import crypto
from grassroots.core.scoping import Scope
from grassroots.core.validators import (
    IdNumber,
    id_number_with_check,
    mask_name,
    parse_id_number,
)

from .models import Resident, Tag, join_tags

if TYPE_CHECKING:
    from grassroots.accounts.models import User

FORMAT = "grassroots.personal-data/1"
ANONYMIZED_NAME = "已匿名"
# No administrative division code starts with 00 (GB/T 2260): these numbers are never real.
ANONYMIZED_REGION = "00"
KEPT_TAG_KINDS = frozenset({Tag.Kind.CARE})
# Columns an anonymization rewrites (derived ones included: it bypasses Resident.save, which
# would rebuild the name search keys from the placeholder).
_ANONYMIZED_FIELDS = (
    "name",
    "name_key",
    "name_pinyin",
    "name_initials",
    "id_number",
    "id_hash",
    "id_tail",
    "sex",
    "birth_date",
    "phone",
    "phone_hash",
    "tags",
    "updated_at",
)


@dataclass(frozen=True)
class Holder:
    """Personal data about a person that an app above the registry holds (a party member's
    record, …): `export(number, actor)` returns the person's own rows of it in full, for the
    document's section `key`; `anonymize(number, synthetic, actor, reason)` removes the identity
    from them (audited) and returns how many rows it changed. Both run in the request's
    transaction, after the registry found the person in the actor's scope."""

    key: str
    export: Callable[[str, Any], list[dict[str, Any]]]
    anonymize: Callable[[str, str, Any, str], int]


HOLDERS: list[Holder] = []


def register_holder(holder: Holder) -> None:
    """An app's AppConfig.ready registers what it holds about people (once per key)."""
    if all(h.key != holder.key for h in HOLDERS):
        HOLDERS.append(holder)


class PersonNotFound(LookupError):
    """No resident row that the actor may see holds this ID number."""


def is_anonymized_number(number: str) -> bool:
    """Whether an ID number is one given by an anonymization."""
    return number.startswith(ANONYMIZED_REGION)


def anonymized_id_number(*, birth_year: int, sex: str) -> str:
    """A random synthetic ID number for the birth year and sex, held by no resident yet."""
    for _attempt in range(100):
        region = ANONYMIZED_REGION + f"{secrets.randbelow(10_000):04d}"
        sequence = secrets.randbelow(500) * 2 + (1 if sex == Resident.Sex.MALE else 0)
        number = id_number_with_check(f"{region}{birth_year:04d}0101{sequence:03d}")
        if not Resident.objects.filter(id_hash=crypto.digest(number)).exists():
            return number
    raise RuntimeError("no free synthetic ID number after 100 draws")  # 5 million per year


def _scope(actor: User | None) -> Scope:
    return Scope.everything() if actor is None else Scope.for_user(actor)


def _check_permission(actor: User | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(
            _("%(user)s may not do this (needs %(permission)s)")
            % {"user": actor.get_username(), "permission": permission}
        )


def person_records(*, actor: User | None, id_number: str, permission: str) -> list[Resident]:
    """Every resident row holding `id_number` that `actor` may see (None: the command line).

    Raises ValidationError for a malformed number, PermissionDenied when the actor lacks
    `permission`, PersonNotFound when no row in the actor's scope holds the number.
    """
    parsed = parse_id_number(id_number)
    _check_permission(actor, permission)
    rows = list(
        Resident.objects.with_id_number(parsed.number)
        .in_scope(_scope(actor))
        .select_related("household__grid", "unit")
        .defer("household__grid__boundary")
        .order_by("pk")
    )
    if not rows:
        raise PersonNotFound(_("no resident with this ID number"))
    return rows


def _when(value: datetime.datetime | datetime.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


def _record_document(
    resident: Resident,
    kinds: dict[str, str],
    others: list[Resident],
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    household = resident.household
    grid = household.grid if household is not None else None
    return {
        "record": resident.pk,
        "name": resident.name,
        "id_number": resident.id_number,
        "phone": resident.phone,
        "birth_date": _when(resident.birth_date),
        "sex": resident.sex,
        "age": resident.age,
        "residency": resident.residency,
        "moved_out_on": _when(resident.moved_out_on),
        "deceased_on": _when(resident.deceased_on),
        # Their own data: sensitive tags included, each with its kind.
        "tags": [{"name": t, "kind": kinds.get(t, "")} for t in resident.tag_list],
        "unit": {"code": resident.unit.code, "name": resident.unit.name},
        "grid": {"code": grid.code, "name": grid.name} if grid is not None else None,
        "household": None
        if household is None
        else {
            "code": household.code,
            "address": household.address,
            "building": household.building,
            "unit_no": household.unit_no,
            "room": household.room,
            "relation": resident.relation,
            # Other people's data is not this person's to receive: masked name and relation.
            "other_members": [
                {"name": mask_name(o.name), "relation": o.relation}
                for o in others
                if o.household_id == household.pk
            ],
        },
        "created_at": _when(resident.created_at),
        "updated_at": _when(resident.updated_at),
        "history": history,
    }


def person_export(*, actor: User | None, id_number: str, reason: str = "") -> dict[str, Any]:
    """Everything held about the person with `id_number`, as one JSON-ready document.

    Their own fields in full (ID and mobile number decrypted), derived fields, household with
    other members masked, tags (sensitive ones too), grid and unit, and the audit history of
    their rows. One "export" event per row is recorded with `reason`; call it inside the
    transaction that delivers the document, so that a failed delivery records nothing.
    """
    with transaction.atomic():
        rows = person_records(actor=actor, id_number=id_number, permission="registry.view_resident")
        pks = [r.pk for r in rows]
        household_ids = {r.household_id for r in rows if r.household_id}
        others = list(
            Resident.objects.filter(household_id__in=household_ids)
            .exclude(pk__in=pks)
            .only("name", "relation", "household_id")
            .order_by("household_id", "pk")
        )
        kinds = dict(Tag.objects.values_list("name", "kind"))
        history: dict[str, list[dict[str, Any]]] = {str(pk): [] for pk in pks}
        events = Event.objects.filter(
            object_type=audit.object_type(Resident), object_id__in=list(history)
        ).order_by("at", "pk")
        for event in events:
            history[event.object_id].append(
                {
                    "at": _when(event.at),
                    "action": event.action,
                    "channel": event.channel,
                    "changes": event.changes,
                }
            )
        document = {
            "format": FORMAT,
            "generated_at": _when(timezone.now()),
            "generated_by": current().actor()[1],
            "id_number": rows[0].id_number,
            "records": [_record_document(r, kinds, others, history[str(r.pk)]) for r in rows],
            # What the apps above the registry hold about them (HOLDERS).
            **{h.key: h.export(rows[0].id_number, actor) for h in HOLDERS},
        }
        for r in rows:
            audit.record(
                Event.Action.EXPORT,
                object_type=audit.object_type(r),
                object_id=r.pk,
                object_repr=audit.label(r),
                scope_code=r.scope_code,
                changes={"format": FORMAT},
                reason=reason,
            )
    return document


@dataclass(frozen=True)
class Anonymized:
    """What an anonymization did: the rows (now anonymous) and their new masked label."""

    rows: list[Resident]
    label: str


def person_anonymize(*, actor: User | None, id_number: str, reason: str = "") -> Anonymized:
    """Remove the identity of the person with `id_number` from every row that holds it.

    The rows stay (see the module docstring for what is kept and why); one "anonymize" event
    per row records the masked changes and `reason`. An actor needs registry.change_resident
    and every row of the person in scope: a partial anonymization would leave them
    identifiable, so it is refused as a whole.
    """
    parsed: IdNumber = parse_id_number(id_number)
    with transaction.atomic():
        rows = person_records(
            actor=actor, id_number=parsed.number, permission="registry.change_resident"
        )
        everywhere = Resident.objects.with_id_number(parsed.number).count()
        if everywhere != len(rows) and actor is not None:
            raise PermissionDenied(
                _(
                    "%(n)d record(s) of this person lie outside the scope of %(user)s;"
                    " anonymize with an account whose scope covers them all"
                )
                % {"n": everywhere - len(rows), "user": actor.get_username()}
            )
        rows = list(
            Resident.objects.filter(pk__in=[r.pk for r in rows])
            .select_for_update(of=("self",))
            .select_related("household", "unit")
            .order_by("pk")
        )
        number = anonymized_id_number(birth_year=parsed.birth_date.year, sex=parsed.sex)
        kinds = dict(Tag.objects.values_list("name", "kind"))
        now = timezone.now()
        for r in rows:
            before = audit.snapshot(r)
            r.name = ANONYMIZED_NAME
            r.id_number = number
            r.phone = ""
            r.tags = join_tags([t for t in r.tag_list if kinds.get(t) in KEPT_TAG_KINDS])
            r.fill_derived()
            r.name_key = r.name_pinyin = r.name_initials = ""
            r.updated_at = now
            Resident.objects.filter(pk=r.pk).update(
                **{f: getattr(r, f) for f in _ANONYMIZED_FIELDS}
            )
            # Removed sensitive tags go to a sensitive event of their own.
            audit.changed(
                r,
                audit.diff(before, audit.snapshot(r)),
                action=Event.Action.ANONYMIZE,
                reason=reason,
            )
        for holder in HOLDERS:
            holder.anonymize(parsed.number, number, actor, reason)
    return Anonymized(rows=rows, label=rows[0].audit_label)
