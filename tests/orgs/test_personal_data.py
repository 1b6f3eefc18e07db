"""A party member's record in the registry's personal-data requests (grassroots person
export / anonymize): in the person's own copy in full, and anonymized with their resident rows."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management import call_command

from grassroots.audit.models import Event
from grassroots.orgs.models import Member
from grassroots.registry.models import Resident
from grassroots.registry.personal_data import ANONYMIZED_NAME
from tests.orgs.party_world import party_world


def test_the_copy_holds_the_member_record_and_anonymization_removes_the_identity(world: Any):
    party = party_world(world)
    member = party.members["SD-ZB"]  # 赵光菊, the secretary of 水东
    number = member.id_number
    out = io.StringIO()
    call_command("person", "export", number, "--reason", "本人申请", stdout=out)
    document = json.loads(out.getvalue())
    [record] = document["party_membership"]
    assert record["id_number"] == number and record["phone"] == "13912345678"
    assert record["organization"]["code"] == "SD-ZB"
    assert record["posts"][0]["post"] == "secretary" and record["skills"] == ["种植"]
    assert record["meetings_attended_or_excused"] == 1

    call_command(
        "person", "anonymize", number, "--yes", "--reason", "本人申请删除", stdout=io.StringIO()
    )
    member.refresh_from_db()
    resident = Resident.objects.get(pk=world.residents["赵光菊"].pk)
    assert member.name == ANONYMIZED_NAME and member.phone == ""
    assert member.id_number == resident.id_number != number
    # The record stays: the organization's figures do not change.
    assert member.organization.members.count() == 2
    assert not Member.objects.filter(name="赵光菊").exists()
    event = Event.objects.get(object_type="orgs.member", action=Event.Action.ANONYMIZE)
    assert event.reason == "本人申请删除"
    assert number not in json.dumps(event.changes, ensure_ascii=False)
