"""The resident importer: rows checked one by one (ID numbers parsed, sealed and hashed as they
are read), then an upsert by ID number (see registry/imports.py for the rules).

A county's first import holds a million rows: the row check keeps its lookups in locals and
caches the cells that repeat (names' pinyin, relations, residency types, dates, tags)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.bulk import db_date, db_datetime, insert_rows, update_rows
from grassroots.core.crypto import BulkCrypto
from grassroots.core.imports import Column, register
from grassroots.core.text import clean_text, compact, name_key, name_pinyin
from grassroots.core.validators import (
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
    validate_mobile,
    validate_name,
)
from grassroots.territory.models import Unit

from .imports_common import (
    RELATIONS,
    RESIDENCIES,
    RegistryImporter,
    SensitiveItems,
    audit_name,
    audit_sensitive,
    default_unit,
    invalid,
    last_pk,
    parse_choice,
    parse_date,
    parse_tags,
    pks_by,
    tag_vocabulary,
)
from .models import Household, Resident, sensitive_tag_names, split_tag_changes

RESIDENT_COLUMNS = (
    Column("name", ("姓名", "name"), required=True),
    Column(
        "id_number",
        ("身份证号", "id_number", "身份证号码", "公民身份号码", "身份证"),
        required=True,
    ),
    Column("phone", ("手机号", "phone", "手机号码", "手机", "联系电话", "mobile")),
    Column("household_code", ("户编号", "household_code", "户号")),
    Column("relation", ("与户主关系", "relation", "关系")),
    Column("residency", ("居住类型", "residency", "人口类型")),
    Column("tags", ("标签", "tags", "人员标签")),
    Column("moved_out_on", ("迁出日期", "moved_out_on")),
    Column("deceased_on", ("死亡日期", "deceased_on")),
)
# Compared on re-import; derived columns follow from these.
RESIDENT_FIELDS = (
    "name",
    "phone_hash",
    "household_id",
    "relation",
    "residency",
    "tags",
    "moved_out_on",
    "deceased_on",
    "unit_id",
    "scope_code",
)
_AT = {f: i for i, f in enumerate(RESIDENT_FIELDS)}
# Columns of the residents table in the audit trail's creation events (masked ones aside).
_AUDIT_COLUMNS = {
    "household": "household_id",
    "relation": "relation",
    "residency": "residency",
    "moved_out_on": "moved_out_on",
    "deceased_on": "deceased_on",
    "unit": "unit_id",
}
# Fields of the audit trail's resident events, in the order the import knows them.
_AUDITED = (
    "name",
    "household_id",
    "relation",
    "residency",
    "tags",
    "moved_out_on",
    "deceased_on",
    "unit_id",
)
_INSERTED = (
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
    "household_id",
    "relation",
    "residency",
    "moved_out_on",
    "deceased_on",
    "unit_id",
    "scope_code",
    "tags",
    "created_at",
    "updated_at",
)
# Above this share of the table, reading all existing ID numbers at once beats IN lookups.
_FULL_SCAN_SHARE = 0.2
Changed = list[tuple[int, dict[str, Any], tuple[Any, ...], tuple[Any, ...]]]


@register
class ResidentImporter(RegistryImporter):
    kind = "residents"
    model = Resident
    columns = RESIDENT_COLUMNS
    help = "residents from CSV/XLSX/XLS"

    def prepare(self) -> None:
        self.households = (
            {
                code: (pk, unit_id, scope_code)
                for code, pk, unit_id, scope_code in Household.objects.in_scope(
                    self.scope
                ).values_list("code", "pk", "unit_id", "scope_code")
            }
            if "household_code" in self.index
            else {}
        )
        self.fallback = default_unit(self.unit_code, self.scope)
        self.vocabulary = tag_vocabulary()
        self.today = datetime.date.today()
        self.sealer = BulkCrypto()
        self.parsed: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        # Cells that repeat a few values (mostly empty dates): parsed once each, and the
        # labels translated once, not per row.
        self.pinyin_cache: dict[str, tuple[str, str, str, str]] = {}
        self.tag_cache: dict[str, tuple[str, str | None]] = {}
        self.relation_cache: dict[str, tuple[str, str | None]] = {}
        self.residency_cache: dict[str, tuple[str, str | None]] = {}
        self.date_cache: dict[str, tuple[datetime.date | None, str | None]] = {}
        self.labels = (_("relation"), _("residency type"))
        # The cells of each row, by index (None for a column the file lacks): looked up once.
        get = self.index.get
        self.cells_at: tuple[int, int, int | None, int | None] = (
            self.index["name"],
            self.index["id_number"],
            get("phone"),
            get("household_code"),
        )
        self.more_at = tuple(
            get(key) for key in ("relation", "residency", "tags", "moved_out_on", "deceased_on")
        )
        self.has_more = any(i is not None for i in self.more_at)

    def check_row(self, number: int, cells: list[str]) -> None:
        problem = self.problem
        i_name, i_id, i_phone, i_household = self.cells_at
        row: dict[str, Any] = {"_row": number}
        raw_name = cells[i_name]
        keys = self.pinyin_cache.get(raw_name)
        if keys is None:
            name = clean_text(raw_name)
            key = name_key(name)
            keys = self.pinyin_cache[raw_name] = (name, key, *name_pinyin(key))
        row["name"], row["name_key"], row["name_pinyin"], row["name_initials"] = keys
        if not row["name"]:
            problem(number, "name", _("name is empty"))
        elif len(row["name"]) > 50:
            problem(number, "name", _("name is longer than 50 characters"))
        elif (name_error := invalid(validate_name, row["name"])) is not None:
            problem(number, "name", name_error)
        sealer = self.sealer
        try:
            parsed_id = parse_id_number(cells[i_id], today=self.today)
        except ValidationError as exc:
            problem(number, "id_number", exc.messages[0])
        else:
            id_number = parsed_id.number
            row["id_number"] = id_number
            row["id_hash"] = sealer.digest(id_number)
            row["id_tail"] = sealer.tail_digest(id_number[-4:])
            row["sex"] = parsed_id.sex
            row["birth_date"] = parsed_id.birth_date
            first = self.seen.get(id_number)
            if first is not None:
                problem(number, "id_number", _("duplicate of row %(row)d") % {"row": first})
            else:
                self.seen[id_number] = number
        if i_phone is not None:
            if cells[i_phone].strip():
                try:
                    row["phone"] = validate_mobile(cells[i_phone])
                    row["phone_hash"] = sealer.digest(row["phone"])
                except ValidationError as exc:
                    problem(number, "phone", exc.messages[0])
            else:
                row["phone"] = row["phone_hash"] = ""
        if i_household is not None:
            code = compact(cells[i_household])
            if not code:
                row["household_id"] = None
            elif (household := self.households.get(code)) is None:
                reason = _("household %(code)s does not exist") % {"code": code}
                problem(number, "household_code", reason)
            else:
                row["household_id"], row["unit_id"], row["scope_code"] = household
        if self.has_more:
            self._check_kinds_and_dates(number, cells, row)
        self.parsed.append(row)

    def _check_kinds_and_dates(self, number: int, cells: list[str], row: dict[str, Any]) -> None:
        """Relation, residency type, tags, dates: cells of a few repeating values, cached."""
        problem = self.problem
        i_relation, i_residency, i_tags, *i_dates = self.more_at
        if (i := i_relation) is not None:
            raw = cells[i]
            choice = self.relation_cache.get(raw)
            if choice is None:
                choice = self.relation_cache[raw] = parse_choice(raw, RELATIONS, self.labels[0])
            row["relation"], error = choice
            if error:
                problem(number, "relation", error)
            elif (
                row["relation"]
                and row.get("household_id", 0) is None
                and row["relation"] != "tenant"
            ):
                problem(number, "relation", _("a relation to the head needs a household code"))
        if (i := i_residency) is not None:
            raw = cells[i]
            choice = self.residency_cache.get(raw)
            if choice is None:
                choice = self.residency_cache[raw] = parse_choice(raw, RESIDENCIES, self.labels[1])
            value, error = choice
            if error:
                problem(number, "residency", error)
            elif value:
                row["residency"] = value
        if (i := i_tags) is not None:
            row["tags"], error = parse_tags(cells[i], self.vocabulary, self.tag_cache)
            if error:
                problem(number, "tags", error)
        for key, i in zip(("moved_out_on", "deceased_on"), i_dates, strict=True):
            if i is not None:
                raw = cells[i]
                parsed_date = self.date_cache.get(raw)
                if parsed_date is None:
                    parsed_date = self.date_cache[raw] = parse_date(raw)
                row[key], error = parsed_date
                if error:
                    problem(number, key, error)

    def match(self) -> None:
        """New and changed residents by ID number: someone the registry holds twice, or who
        lives outside the importer's area, is a problem; so is a new resident without a place."""
        by_hash = {row["id_hash"]: row["id_number"] for row in self.parsed}
        self.existing, ambiguous = _existing_residents(list(by_hash))
        self.unit_codes = dict(Unit.objects.values_list("pk", "code"))
        self.now = now = db_datetime(timezone.now())
        encrypt, has_phone = self.sealer.encrypt, "phone" in self.index
        creates: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        changed: Changed = []
        existing, contains, scope_at = self.existing, self.scope.contains, _AT["scope_code"]
        for row in self.parsed:
            old = existing.get(row["id_hash"])
            if (old is not None and not contains(old[1][scope_at])) or row["id_hash"] in ambiguous:
                self._refuse(row, ambiguous)
                continue
            if row.get("household_id") is None and not self._place(row, old):
                continue
            if old is None:
                creates.append(_new_values(row, encrypt, now))
                continue
            pk, values = old
            merged = dict(zip(RESIDENT_FIELDS, values, strict=True))
            for key in RESIDENT_FIELDS:
                if key in row:
                    merged[key] = row[key]
            new_values = tuple(merged[f] for f in RESIDENT_FIELDS)
            if new_values == values:
                self.result.unchanged += 1
                continue
            out = [db_date(v) if isinstance(v, datetime.date) else v for v in new_values]
            phone = [encrypt(row["phone"])] if has_phone else []
            updates.append(
                (*out, row["name_key"], row["name_pinyin"], row["name_initials"], now, *phone, pk)
            )
            changed.append((pk, row, values, new_values))
        self.creates, self.updates, self.changed = creates, updates, changed
        self.result.created, self.result.updated = len(creates), len(updates)

    def _refuse(self, row: dict[str, Any], ambiguous: dict[str, int]) -> None:
        """A row whose ID number the registry holds twice, or holds outside the scope."""
        if row["id_hash"] in ambiguous:
            reason = _(
                "this ID number belongs to %(n)d residents in the registry; resolve the duplicate first"
            ) % {"n": ambiguous[row["id_hash"]]}
        else:
            # The person is on the registry elsewhere: neither update nor move them from here.
            reason = _("the resident with this ID number lives outside your area")
        self.problem(row["_row"], "id_number", reason)

    def _place(self, row: dict[str, Any], old: Any) -> bool:
        """Without a household: the fallback unit if one was given, else the unit they were in;
        False (a problem) for a new resident without either."""
        if "household_id" not in row and old:
            return True  # the file has no household column: they stay where they are
        if self.fallback is not None:
            row["unit_id"], row["scope_code"] = self.fallback.pk, self.fallback.code
        elif old is not None:
            old_unit = old[1][_AT["unit_id"]]
            row["unit_id"], row["scope_code"] = old_unit, self.unit_codes[old_unit]
        else:
            reason = _(
                "no household code: import with --unit CODE to say where this resident lives"
            )
            key = "household_code" if "household_code" in self.header else "id_number"
            self.problem(row["_row"], key, reason)
            return False
        return True

    def write(self) -> None:
        after_pk = last_pk(Resident)
        # Old mobile numbers of the changed rows, for the audit trail (masked there).
        old_phones = _phones([c[0] for c in self.changed if c[2][1] != c[3][1]])
        insert_rows(Resident, _INSERTED, self.creates)
        update_rows(
            Resident,
            (
                *RESIDENT_FIELDS,
                "name_key",
                "name_pinyin",
                "name_initials",
                "updated_at",
                *(["phone"] if "phone" in self.index else []),
            ),
            self.updates,
        )
        # One event per resident written, values masked; sensitive tags in events of their own.
        new_rows = [r for r in self.parsed if r["id_hash"] not in self.existing]
        secret_created = _audit_created(new_rows, after_pk)
        secret_updated = _audit_changed(self.changed, old_phones)
        audit_sensitive(audit.object_type(Resident), secret_created, secret_updated)


def _new_values(row: dict[str, Any], encrypt: Any, now: Any) -> tuple[Any, ...]:
    """A new resident's row in _INSERTED order."""
    return (
        row["name"],
        row["name_key"],
        row["name_pinyin"],
        row["name_initials"],
        encrypt(row["id_number"]),
        row["id_hash"],
        row["id_tail"],
        row["sex"],
        db_date(row["birth_date"]),
        encrypt(row.get("phone", "")),
        row.get("phone_hash", ""),
        row.get("household_id"),
        row.get("relation", ""),
        row.get("residency", "registered"),
        db_date(row.get("moved_out_on")),
        db_date(row.get("deceased_on")),
        row["unit_id"],
        row["scope_code"],
        row.get("tags", ""),
        now,
        now,
    )


def _phones(pks: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(pks), 900):
        found.update(
            Resident.objects.filter(pk__in=pks[start : start + 900])
            .order_by()
            .values_list("pk", "phone")
        )
    return found


def _audit_created(new_rows: list[dict[str, Any]], after_pk: int) -> SensitiveItems:
    """One creation event per new resident, built by the database; the sensitive tags given,
    for events of their own."""
    secret: SensitiveItems = []
    if not new_rows:
        return secret
    sensitive = sensitive_tag_names()
    pks = pks_by(Resident, "id_hash", [r["id_hash"] for r in new_rows], after_pk)

    def masked(row: dict[str, Any]) -> tuple[int, str, str, str, str, str]:
        name, number = mask_name(row["name"]), mask_id_number(row["id_number"])
        phone = mask_phone(row["phone"]) if row.get("phone") else ""
        pk, label = pks[row["id_hash"]], f"{name} {number}"
        shown, hidden = split_tag_changes({"tags": [None, row.get("tags") or None]}, sensitive)
        if hidden:
            secret.append((pk, label, row["scope_code"], hidden))
        tags = (shown.get("tags") or [None, ""])[1] or ""
        return (pk, label, name, number, phone, tags)

    audit.record_created_rows(
        Resident,
        sorted(map(masked, new_rows)),
        masked_keys=("name", "id_number", "phone", "tags"),
        columns=_AUDIT_COLUMNS,
        after_pk=after_pk,
    )
    return secret


def _audit_changed(changed: Changed, old_phones: dict[int, str]) -> SensitiveItems:
    """One update event per changed resident; the sensitive tag changes, for events of their
    own."""
    secret: SensitiveItems = []
    if not changed:
        return secret
    sensitive = sensitive_tag_names()
    items = []
    for pk, row, old, new in changed:
        changes = {}
        for f in _AUDITED:
            before, after = old[_AT[f]], new[_AT[f]]
            if before != after:
                if f == "name":
                    before, after = mask_name(before), mask_name(after)
                changes[audit_name(f)] = [_plain(before), _plain(after)]
        if old[_AT["phone_hash"]] != new[_AT["phone_hash"]]:
            changes["phone"] = [
                mask_phone(old_phones.get(pk, "")) or None,
                mask_phone(row.get("phone", "")) or None,
            ]
        label = f"{mask_name(row['name'])} {mask_id_number(row['id_number'])}"
        shown, hidden = split_tag_changes(changes, sensitive)
        if shown:
            items.append((pk, label, new[_AT["scope_code"]], shown))
        if hidden:
            secret.append((pk, label, new[_AT["scope_code"]], hidden))
    audit.record_many(audit.Event.Action.UPDATE, audit.object_type(Resident), items)
    return secret


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value


def _existing_residents(
    numbers: list[str],
) -> tuple[dict[str, tuple[int, tuple[Any, ...]]], dict[str, int]]:
    """Current rows for these ID number hashes, and the hashes held by more than one resident."""
    found: dict[str, tuple[int, tuple[Any, ...]]] = {}
    counts: dict[str, int] = {}
    total = Resident.objects.count()
    if not total:
        return found, {}
    wanted = set(numbers)
    fields = ("id_hash", "pk", *RESIDENT_FIELDS)
    if len(numbers) > total * _FULL_SCAN_SHARE:
        batches: Iterable[Any] = [Resident.objects.values_list(*fields).iterator(chunk_size=10_000)]
    else:
        batches = (
            Resident.objects.filter(id_hash__in=numbers[s : s + 900]).values_list(*fields)
            for s in range(0, len(numbers), 900)
        )
    for batch in batches:
        for row in batch:
            if row[0] not in wanted:
                continue
            counts[row[0]] = counts.get(row[0], 0) + 1
            found[row[0]] = (row[1], tuple(row[2:]))
    ambiguous = {n: c for n, c in counts.items() if c > 1}
    return found, ambiguous
