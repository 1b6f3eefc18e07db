"""`grassroots import members FILE`: party members on the import pipeline (core/imports.py):
姓名 name, 身份证号 id_number, 组织编码 org_code, 类别 status (正式党员/预备党员), 入党日期
joined_on, then optional 职务 posts, 技能 skills, 手机号 phone (several posts or skills separated
by 、 ; or ,).

Upserted by ID number (its keyed hash: one person is one member). A member found in another
organization is transferred (the move kept as a `Transfer`); one who became formal is converted
today. When the file has a posts or skills column, it says what the member holds now: posts not
named end today, new ones start today; skills are replaced. A person of the registry with the
same ID number is linked; a member without one (流动党员) is allowed. Each member written is
audited (numbers masked), and the import too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.core import crypto
from grassroots.core.imports import (
    Column,
    Importer,
    ImportResult,
    register,
    run_import,
    split_values,
)
from grassroots.core.tables import Table
from grassroots.core.text import clean_text, compact
from grassroots.core.validators import parse_id_number, validate_mobile, validate_name
from grassroots.registry.imports_common import invalid, parse_date
from grassroots.registry.models import Resident

from .models import (
    Member,
    MemberPost,
    MemberSkill,
    Organization,
    OrganizationUnit,
    Post,
    Transfer,
)
from .selectors import visible_q

STATUS_WORDS = {
    "正式党员": Member.Status.FORMAL,
    "正式": Member.Status.FORMAL,
    "formal": Member.Status.FORMAL,
    "预备党员": Member.Status.PROBATIONARY,
    "预备": Member.Status.PROBATIONARY,
    "probationary": Member.Status.PROBATIONARY,
}
POST_WORDS = {
    **{post.value: post.value for post in Post},
    "书记": Post.SECRETARY,
    "副书记": Post.DEPUTY_SECRETARY,
    "组织委员": Post.ORGANIZATION,
    "宣传委员": Post.PUBLICITY,
    "纪检委员": Post.DISCIPLINE,
    "委员": Post.COMMITTEE,
    "党小组长": Post.GROUP_LEADER,
}
SKILL_MAX_LENGTH = 30


@register
class MemberImporter(Importer):
    kind = "members"
    model = Member
    help = "party members from CSV/XLSX/XLS: name, id_number, org_code, status, joined_on[, ...]"
    options = ("errors", "as_user")
    record_event = staticmethod(audit.record)
    acting = staticmethod(acting)
    columns = (
        Column("name", ("姓名", "name"), required=True),
        Column("id_number", ("身份证号", "id_number", "身份证号码", "公民身份号码"), required=True),
        Column("org_code", ("组织编码", "org_code", "所在组织"), required=True),
        Column("status", ("类别", "status", "党员类别"), required=True),
        Column("joined_on", ("入党日期", "joined_on", "入党时间"), required=True),
        Column("posts", ("职务", "posts", "党内职务")),
        Column("skills", ("技能", "skills", "特长")),
        Column("phone", ("手机号", "phone", "手机号码", "联系电话")),
    )

    def prepare(self) -> None:
        # The organizations whose every unit lies in the importer's scope: a village's people
        # see the town's committee above them, but do not add its members.
        served: dict[int, list[str]] = {}
        for org_id, code in OrganizationUnit.objects.values_list("organization_id", "unit_code"):
            served.setdefault(org_id, []).append(code)
        scope = self.scope
        self.orgs = {
            o.code: o
            for o in Organization.objects.filter(visible_q(scope))
            if scope.is_everything
            or all(any(c.startswith(s) for s in scope.codes or ()) for c in served.get(o.pk, []))
        }
        self.rows: dict[str, dict[str, Any]] = {}

    def cell(self, cells: list[str], key: str) -> str:
        return cells[self.index[key]] if key in self.index else ""

    def check_row(self, number: int, cells: list[str]) -> None:
        row: dict[str, Any] = {"row": number}
        row["name"] = name = clean_text(self.cell(cells, "name"))
        if not name:
            self.problem(number, "name", _("name is empty"))
        elif why := invalid(validate_name, name):
            self.problem(number, "name", why)
        try:
            parsed = parse_id_number(self.cell(cells, "id_number"))
        except ValidationError as exc:
            return self.problem(number, "id_number", str(exc.messages[0]))
        row["id_number"] = parsed.number
        digest = crypto.digest(parsed.number)
        if digest in self.rows:
            reason = _("the same ID number as row %(row)d") % {"row": self.rows[digest]["row"]}
            return self.problem(number, "id_number", reason)
        org = self.orgs.get(compact(self.cell(cells, "org_code")))
        if org is None:
            reason = _("no organization %(code)s in your scope") % {
                "code": compact(self.cell(cells, "org_code"))[:40]
            }
            self.problem(number, "org_code", reason)
        row["org"] = org
        word = compact(self.cell(cells, "status"))
        row["status"] = STATUS_WORDS.get(word.lower() if word.isascii() else word)
        if row["status"] is None:
            self.problem(
                number, "status", _("%(v)s is not 正式党员 or 预备党员") % {"v": word[:20]}
            )
        joined, why = parse_date(self.cell(cells, "joined_on"))
        if why or joined is None:
            self.problem(number, "joined_on", why or _("give the date of joining"))
        elif joined < parsed.birth_date:
            self.problem(number, "joined_on", _("before the date of birth"))
        row["joined_on"] = joined
        row["posts"] = self._posts(number, cells) if "posts" in self.index else None
        row["skills"] = self._skills(number, cells) if "skills" in self.index else None
        phone = compact(self.cell(cells, "phone"))
        row["phone"] = ""
        if phone:
            try:
                row["phone"] = validate_mobile(phone)
            except ValidationError as exc:
                self.problem(number, "phone", str(exc.messages[0]))
        self.rows[digest] = row

    def _posts(self, number: int, cells: list[str]) -> list[str]:
        posts = []
        for word in split_values(self.cell(cells, "posts")):
            post = POST_WORDS.get(compact(word))
            if post is None:
                reason = _(
                    "%(v)s is not a post (书记, 副书记, 组织委员, 宣传委员, 纪检委员, 委员, 党小组长)"
                )
                self.problem(number, "posts", reason % {"v": compact(word)[:20]})
            elif post not in posts:
                posts.append(post)
        return sorted(posts)

    def _skills(self, number: int, cells: list[str]) -> list[str]:
        skills = sorted({clean_text(s) for s in split_values(self.cell(cells, "skills"))} - {""})
        for skill in skills:
            if len(skill) > SKILL_MAX_LENGTH:
                reason = _("skill %(v)s is longer than %(n)d characters")
                self.problem(number, "skills", reason % {"v": skill[:20], "n": SKILL_MAX_LENGTH})
            elif why := invalid(validate_name, skill):
                # A skill is shown and searched like a name: no markup, no control characters.
                self.problem(number, "skills", why)
        return skills

    def match(self) -> None:
        members = Member.objects.filter(id_hash__in=list(self.rows)).select_related("organization")
        self.existing = {m.id_hash: m for m in members}
        ids = [m.pk for m in self.existing.values()]
        self.held: dict[int, list[str]] = {}
        for member_id, post in MemberPost.objects.filter(
            member_id__in=ids, ended_on__isnull=True
        ).values_list("member_id", "post"):
            self.held.setdefault(member_id, []).append(post)
        self.skills: dict[int, list[str]] = {}
        for member_id, skill in MemberSkill.objects.filter(member_id__in=ids).values_list(
            "member_id", "skill"
        ):
            self.skills.setdefault(member_id, []).append(skill)
        for digest, row in self.rows.items():
            member = self.existing.get(digest)
            if member is None:
                self.result.created += 1
            elif self._state(member, row) == self._wanted(row):
                self.result.unchanged += 1
            else:
                self.result.updated += 1

    def _state(self, member: Member, row: dict[str, Any]) -> tuple[Any, ...]:
        posts = sorted(self.held.get(member.pk, [])) if row["posts"] is not None else None
        skills = sorted(self.skills.get(member.pk, [])) if row["skills"] is not None else None
        fields = (member.name, member.organization_id, member.status, member.joined_on)
        return (*fields, member.phone, posts, skills)

    @staticmethod
    def _wanted(row: dict[str, Any]) -> tuple[Any, ...]:
        fields = (row["name"], row["org"].pk, row["status"], row["joined_on"])
        return (*fields, row["phone"], row["posts"], row["skills"])

    def write(self) -> None:
        today = timezone.localdate()
        residents = dict(
            Resident.objects.filter(id_hash__in=list(self.rows), moved_out_on__isnull=True)
            .order_by("pk")
            .values_list("id_hash", "pk")
        )
        for digest, row in self.rows.items():
            member = self.existing.get(digest)
            if member is not None and self._state(member, row) == self._wanted(row):
                continue
            creating = member is None
            before = {} if member is None else audit.snapshot(member)
            member = member or Member(id_number=row["id_number"])
            moved_from = None if creating else member.organization
            if not creating and member.status == "probationary" and row["status"] == "formal":
                member.converted_on = today
            member.name, member.status, member.joined_on = (
                row["name"],
                row["status"],
                row["joined_on"],
            )
            member.organization, member.phone = row["org"], row["phone"]
            member.resident_id = residents.get(digest, member.resident_id)
            member.updated_at = timezone.now()
            member.save()
            changes = audit.diff(before, audit.snapshot(member))
            if moved_from is not None and moved_from.pk != row["org"].pk:
                Transfer.objects.create(
                    member=member,
                    from_organization=moved_from,
                    to_organization=row["org"],
                    on=today,
                    note=_("import"),
                )
                MemberPost.objects.filter(member=member, ended_on__isnull=True).update(
                    ended_on=today
                )
                self.held[member.pk] = []
            if row["posts"] is not None:
                changes.update(self._write_posts(member, row["posts"], today))
            if row["skills"] is not None:
                changes.update(self._write_skills(member, row["skills"]))
            if creating:
                changes = {k: v for k, v in changes.items() if v[1] not in (None, "", [])}
                audit.changed(member, changes, action=audit.Event.Action.CREATE)
            else:
                audit.changed(member, changes)

    def _write_posts(self, member: Member, posts: list[str], today: Any) -> dict[str, Any]:
        held = sorted(self.held.get(member.pk, []))
        if held == posts:
            return {}
        ended = [p for p in held if p not in posts]
        MemberPost.objects.filter(member=member, ended_on__isnull=True, post__in=ended).update(
            ended_on=today
        )
        MemberPost.objects.bulk_create(
            MemberPost(member=member, organization=member.organization, post=p, started_on=today)
            for p in posts
            if p not in held
        )
        return {"posts": [held or None, posts or None]}

    def _write_skills(self, member: Member, skills: list[str]) -> dict[str, Any]:
        had = sorted(self.skills.get(member.pk, []))
        if had == skills:
            return {}
        MemberSkill.objects.filter(member=member).exclude(skill__in=skills).delete()
        MemberSkill.objects.bulk_create(
            MemberSkill(member=member, skill=s) for s in skills if s not in had
        )
        return {"skills": [had or None, skills or None]}


def import_members(source: str | Path | Table, *, dry_run: bool = False) -> ImportResult:
    """Upsert party members by ID number (see the module's docstring)."""
    return run_import(MemberImporter(), source, dry_run=dry_run)
