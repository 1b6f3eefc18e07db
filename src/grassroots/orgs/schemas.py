"""The JSON shapes of the orgs API (orgs/api.py): what it answers and what it takes."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from grassroots.core.api_support import Page


class OrgRef(Schema):
    code: str
    name: str


class UnitRef(Schema):
    code: str
    name: str


class OrganizationOut(Schema):
    code: str
    name: str
    kind: str = Field(
        description="committee, general_branch, branch, joint_branch or temporary_branch."
    )
    parent: OrgRef | None
    units: list[UnitRef] = Field(description="The units it serves: several for a joint branch.")
    members: int
    secretary_vacant_since: datetime.date | None = Field(
        description="Since when nobody holds the secretary post; null while someone does."
    )


class OrganizationPage(Page):
    items: list[OrganizationOut]


class KindLifeOut(Schema):
    required: int
    held: int
    missing_periods: list[str] = Field(description="Months (2026-03) or quarters (2026Q1).")


class LifeOut(Schema):
    org: str
    kinds: dict[str, KindLifeOut]
    attendance_rate: float = Field(ge=0, le=1)


class MemberOut(Schema):
    id: int
    name: str
    id_number: str = Field(description="Masked: 3501**********123X.")
    phone: str | None = Field(description="Masked: 138****5678; null when unknown.")
    status: str = Field(description="formal or probationary.")
    joined_on: datetime.date
    conversion_due_on: datetime.date | None
    conversion_overdue: bool
    organization: OrgRef
    resident_id: int | None = Field(description="null for a member living elsewhere (流动党员).")
    posts: list[str] = Field(description="Posts held now: secretary, deputy_secretary, …")
    skills: list[str]
    available: bool


class MemberPage(Page):
    items: list[MemberOut]


class TalentOut(Schema):
    id: int
    name: str
    organization: OrgRef
    skills: list[str]
    available: bool
    phone: str | None = Field(
        description="Masked, and only for members in your own scope (null otherwise): the pool "
        "shares who can help across villages, not their numbers."
    )
    in_scope: bool = Field(description="Whether the member's organization is one you see.")


class TalentPage(Page):
    items: list[TalentOut]


class AttendanceCounts(Schema):
    present: int
    absent: int
    leave: int


class AttendanceOut(Schema):
    member_id: int
    name: str
    status: str
    reason: str


class MeetingOut(Schema):
    id: int
    organization: OrgRef
    kind: str
    held_on: datetime.date
    topic: str
    place: str
    attendance: AttendanceCounts
    photos: list[str] = Field(description="Addresses of the photos (getOrgPhoto).")


class MeetingDetailOut(MeetingOut):
    minutes: str
    attendees: list[AttendanceOut]


class MeetingPage(Page):
    items: list[MeetingOut]


class AttendanceIn(Schema):
    member_id: int = Field(ge=1, le=2**63 - 1)
    status: Literal["present", "absent", "leave"]
    reason: str = Field("", max_length=200, description="Required for an absence.")


class MeetingIn(Schema):
    kind: Literal[
        "member_meeting", "committee_meeting", "group_meeting", "party_lecture", "theme_day"
    ]
    held_on: datetime.date
    topic: str = Field(min_length=1, max_length=200)
    place: str = Field("", max_length=200)
    minutes: str = Field("", max_length=20000)
    attendance: list[AttendanceIn] = Field(default_factory=list, max_length=5000)


class ActivityOut(Schema):
    id: int
    organization: OrgRef
    alliance: OrgRef | None
    theme: str
    held_on: datetime.date
    place: str
    organizations: list[OrgRef]
    attendees: int = Field(description="Members present.")
    guests: int = Field(description="Others present.")
    minutes: str
    photos: list[str]


class ActivityPage(Page):
    items: list[ActivityOut]


class ActivityIn(Schema):
    organization: str = Field(
        max_length=32, description="The joint branch (or the alliance's organization) leading it."
    )
    alliance: str | None = Field(None, max_length=32, description="The alliance's code, if any.")
    theme: str = Field(min_length=1, max_length=200)
    held_on: datetime.date
    place: str = Field("", max_length=200)
    minutes: str = Field("", max_length=20000)
    guests: int = Field(0, ge=0, le=100000)
    organizations: list[str] = Field(default_factory=list, max_length=100)
    attendees: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list, max_length=5000, description="Ids of the members present."
    )


class AllianceOut(Schema):
    code: str
    name: str
    organizations: list[OrgRef]


class AlliancePage(Page):
    items: list[AllianceOut]


class RevealIn(Schema):
    field: Literal["id_number", "phone"]
    reason: str = Field(min_length=4, max_length=500, description="Why; recorded.")


class RevealOut(Schema):
    member_id: int
    field: str
    value: str
    event_id: int
