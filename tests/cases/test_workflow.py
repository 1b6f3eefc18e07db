"""Intake and the staged workflow: who may take each step, at which tier, and what it records."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grassroots.audit.models import Event
from grassroots.cases import services as s
from grassroots.cases.models import Case, CaseEvent, Stage, TimelineImmutableError
from tests.cases.conftest import MONDAY

H = datetime.timedelta(hours=1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def test_it_places_a_case_in_the_grid_holding_its_point(world: Any, report: Any) -> None:
    case = report(grid=world.grid_a21)
    assert case.grid == world.grid_a21
    assert case.unit == world.village_a2
    assert case.scope_code == world.grid_a21.code
    assert case.tier == "grid" and case.stage == Stage.REPORTED
    assert len(case.tracking_code) == s.CODE_LENGTH
    # environment: 2 working days at grid tier; reported Monday → end of Wednesday.
    assert case.due_at.date() == datetime.date(2026, 3, 4)
    assert case.events.get().action == CaseEvent.Action.REPORT


def test_it_places_a_case_without_a_point_in_the_reporters_household_grid(world: Any) -> None:
    household = world.households["HA12-1"]
    case = s.case_report(
        actor=None,
        channel="hotline",
        category="policy",
        description="咨询医保报销政策",
        reporter_household=household,
        reporter_phone="13800138000",
    )
    assert case.grid == world.grid_a12 and case.tier == "grid"


def test_it_queues_a_case_without_a_place_at_the_unit(world: Any) -> None:
    case = s.case_report(
        actor=None,
        channel="hotline",
        category="environment",
        description="镇区垃圾清运不及时",
        unit="350426100",
        reporter_phone="0598-6321234",
    )
    assert case.grid is None and case.unit == world.town_a
    assert case.scope_code == "350426100"
    assert case.tier == "town"  # raised to the unit's level
    assert case.reporter_phone == "05986321234"


def test_it_refuses_bad_intake_naming_every_field(world: Any) -> None:
    with pytest.raises(s.CaseInputError) as caught:
        s.case_report(
            actor=None,
            channel="portal",
            category="nosuch",
            description="短",
            lon="abc",
            lat=26.1,
            reporter_phone="12345",
            reporter_email="x@",
        )
    errors = caught.value.message_dict
    assert errors["category"] == ["Unknown category nosuch"]
    assert errors["description"] == ["Describe the matter in at least 4 characters"]
    assert errors["lon"] == ["lon must be a number"]
    assert errors["reporter_phone"] == ["Mobile number must be 11 digits starting with 13 to 19"]
    assert errors["reporter_email"] == ["Not an email address"]
    assert not Case.objects.exists()


def test_it_refuses_a_case_with_no_place_at_all(world: Any) -> None:
    with pytest.raises(s.CaseInputError) as caught:
        s.case_report(
            actor=None,
            channel="portal",
            category="other",
            description="有个问题要反映",
            lon=100.0,
            lat=30.0,
        )
    assert "location" in caught.value.message_dict
    assert not Case.objects.exists()


def test_it_checks_photos_by_their_bytes_and_size(world: Any, report: Any, settings: Any) -> None:
    fake = SimpleUploadedFile("a.jpg", b"MZ\x90\x00 not an image", content_type="image/jpeg")
    with pytest.raises(s.CaseInputError) as caught:
        report(photos=[fake])
    assert caught.value.message_dict["photos"] == [
        "Photo a.jpg is not a JPEG, PNG, WebP or HEIC image"
    ]
    settings.CASE_PHOTO_MAX_BYTES = 100
    big = SimpleUploadedFile("b.png", PNG, content_type="image/png")
    with pytest.raises(s.CaseInputError) as caught:
        report(photos=[big])
    assert "larger than" in caught.value.message_dict["photos"][0]
    assert not Case.objects.exists()


def test_it_keeps_photos_with_their_step(
    world: Any, report: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    case = report(photos=[SimpleUploadedFile("x.jpg", JPEG)])
    photo = case.photos.get()
    assert photo.content_type == "image/jpeg" and photo.size == len(JPEG)
    assert photo.event.action == "report"
    assert (tmp_path / photo.file.name).read_bytes() == JPEG


def _through(case: Case, world: Any) -> Case:
    u = world.users
    case = s.case_accept(case, actor=u["worker"], now=MONDAY)
    case = s.case_start(case, actor=u["worker"], now=MONDAY + H)
    return s.case_handle(case, actor=u["worker"], note="已修复路灯", now=MONDAY + 5 * H)


def test_it_runs_the_whole_workflow_and_records_each_step(world: Any, report: Any) -> None:
    u = world.users
    case = _through(report(), world)
    assert case.assignee == u["worker"] and case.handled_tier == "grid"
    assert case.hours_grid == pytest.approx(5.0)
    case = s.case_verify(case, actor=u["secretary"], now=MONDAY + 6 * H)
    case = s.case_close(case, actor=u["secretary"], now=MONDAY + 6 * H)
    assert case.closed_on_time is True and not case.is_open
    case = s.case_rate(case, rating=5, comment="很满意", now=MONDAY + 7 * H)
    assert case.stage == Stage.RATED and case.rating == 5
    actions = list(case.events.values_list("action", "actor_name"))
    assert actions == [
        ("report", "reporter"),
        ("accept", "worker"),
        ("start", "worker"),
        ("handle", "worker"),
        ("verify", "secretary"),
        ("close", "secretary"),
        ("rate", "reporter"),
    ]
    assert case.version == 7
    changes = Event.objects.filter(object_type="cases.case", object_id=str(case.pk))
    assert changes.count() == 7
    assert changes.filter(action="update").first().changes["stage"] is not None


def test_it_masks_the_reporter_in_the_audit_trail(world: Any, report: Any) -> None:
    case = report(reporter_name="王小明")
    event = Event.objects.get(object_type="cases.case", object_id=str(case.pk))
    assert event.changes["reporter_phone"] == [None, "138****8000"]
    assert event.changes["reporter_name"] == [None, "王**"]


@pytest.mark.parametrize(
    ("persona", "message"),
    [
        ("outsider", "This case lies outside your area"),
        ("auditor", "Your role may not do this: a case accepted"),
        ("worker2", "This case lies outside your area"),
    ],
)
def test_it_refuses_steps_to_those_who_may_not_take_them(
    world: Any, report: Any, persona: str, message: str
) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_accept(case, actor=world.users[persona])
    assert caught.value.message == message and caught.value.status == 403
    case.refresh_from_db()
    assert case.stage == Stage.REPORTED and case.version == 1


def test_it_refuses_a_tier_the_role_does_not_work_at(world: Any, report: Any) -> None:
    case = report()
    case = s.case_escalate(case, actor=world.users["worker"], reason="需要村里协调")
    assert case.tier == "village"
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_accept(case, actor=world.users["worker"])
    assert (
        caught.value.message == "This case is at the Village/community tier, where you do not act"
    )
    s.case_accept(case, actor=world.users["secretary"])


def test_it_refuses_a_step_the_stage_does_not_allow(world: Any, report: Any) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_close(case, actor=world.users["secretary"])
    assert caught.value.message == "A case that is reported cannot be closed"
    assert caught.value.status == 409


def test_it_wants_four_eyes_to_verify(world: Any, report: Any) -> None:
    case = report()
    u = world.users
    case = s.case_accept(case, actor=u["secretary"])
    case = s.case_start(case, actor=u["secretary"])
    case = s.case_handle(case, actor=u["secretary"], note="已处理")
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_verify(case, actor=u["secretary"])
    assert caught.value.message == "You handled this case; someone else must check it"
    s.case_verify(case, actor=u["official"])


def test_it_needs_a_note_to_mark_handled(world: Any, report: Any) -> None:
    case = s.case_start(
        s.case_accept(report(), actor=world.users["worker"]), actor=world.users["worker"]
    )
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_handle(case, actor=world.users["worker"], note=" ")
    assert caught.value.message == "Add a note saying what was done or why"


def test_it_sends_back_for_rework_and_counts_it(world: Any, report: Any) -> None:
    u = world.users
    case = _through(report(), world)
    case = s.case_send_back(case, actor=u["secretary"], note="灯还是不亮", now=MONDAY + 6 * H)
    assert case.stage == Stage.IN_PROGRESS and case.reworks == 1 and case.handled_at is None
    case = s.case_handle(case, actor=u["worker"], note="换了灯泡", now=MONDAY + 8 * H)
    assert case.hours_grid == pytest.approx(7.0)


def test_it_dispatches_only_to_someone_who_works_there(world: Any, report: Any) -> None:
    u = world.users
    case = s.case_accept(report(), actor=u["dispatcher"])
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_dispatch(case, actor=u["dispatcher"], assignee=u["worker2"])
    assert caught.value.message == "worker2 does not work on cases at this tier in this area"
    case = s.case_dispatch(case, actor=u["dispatcher"], assignee=u["worker"])
    assert case.stage == Stage.DISPATCHED and case.assignee == u["worker"]
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_start(case, actor=u["secretary"]) if False else s.case_start(
            case, actor=_second_worker(world)
        )
    assert caught.value.message == "This case is assigned to worker"


def _second_worker(world: Any) -> Any:
    from tests import factories as f

    return f.user("worker3", "grid_worker", world.grid_a11.code)


def test_it_refuses_a_write_based_on_an_old_version(world: Any, report: Any) -> None:
    case = report()
    seen = case.version
    s.case_accept(case, actor=world.users["worker"])
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_escalate(case, actor=world.users["worker"], reason="太难了", expected_version=seen)
    assert caught.value.message == (
        "Someone else changed this case meanwhile; reload it and try again"
    )
    case.refresh_from_db()
    assert case.tier == "grid" and case.stage == Stage.ACCEPTED


def test_it_escalates_by_hand_with_a_new_deadline(world: Any, report: Any) -> None:
    u = world.users
    case = s.case_accept(report(), actor=u["worker"], now=MONDAY)
    case = s.case_start(case, actor=u["worker"], now=MONDAY)
    case = s.case_escalate(
        case, actor=u["worker"], reason="涉及多户，需村委会协调", now=MONDAY + 2 * H
    )
    # environment: 3 working days at village tier from Monday → end of Thursday; the due date
    # promised at intake (2 working days at grid tier: end of Wednesday) stays.
    assert case.tier == "village" and case.tier_due_at.date() == datetime.date(2026, 3, 5)
    assert case.due_at.date() == datetime.date(2026, 3, 4)
    assert case.stage == Stage.ACCEPTED and case.assignee is None
    assert case.hours_grid == pytest.approx(2.0) and case.escalations == 1
    event = case.events.last()
    assert (event.action, event.from_tier, event.to_tier) == ("escalate", "grid", "village")
    assert event.note == "涉及多户，需村委会协调"
    for _ in range(2):
        case = s.case_escalate(case, actor=u["admin"], reason="继续上报")
    assert case.tier == "county"
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_escalate(case, actor=u["admin"], reason="继续上报")
    assert caught.value.message == "The case is already at the county tier"


def test_it_extends_a_deadline_in_working_days(world: Any, report: Any) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_defer(case, actor=world.users["official"], days=0, reason="x")
    assert caught.value.message == "days must be a whole number from 1 to 30"
    with pytest.raises(s.TransitionRefused):
        s.case_defer(case, actor=world.users["worker"], days=2, reason="需要时间")
    case = s.case_defer(case, actor=world.users["official"], days=2, reason="等待配件", now=MONDAY)
    assert case.deferred and case.due_at.date() == datetime.date(2026, 3, 6)


def test_it_merges_a_duplicate_and_the_reporter_follows_the_main(world: Any, report: Any) -> None:
    main = report(reporter_phone="13900139000")
    dup = report(reporter_phone="13700137000")
    assert dup.events.get().data["possible_duplicates"] == [main.tracking_code]
    with pytest.raises(s.TransitionRefused):
        s.case_merge(dup, actor=world.users["worker"], main=main)
    dup = s.case_merge(dup, actor=world.users["dispatcher"], main=main, note="同一路灯")
    assert dup.stage == Stage.MERGED and not dup.is_open and dup.merged_into == main
    assert main.events.last().data == {"duplicate": dup.tracking_code}
    # The reporter of the duplicate opens their own case, never the main one (another's).
    assert s.find_for_reporter(dup.tracking_code, "13700137000") == dup
    assert s.find_for_reporter(dup.tracking_code, "13900139000") is None
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_merge(main, actor=world.users["dispatcher"], main=main)
    assert caught.value.message == "A case cannot be merged into itself"


def test_it_lets_the_reporter_reject_a_result_within_seven_days(world: Any, report: Any) -> None:
    u = world.users
    case = _through(report(), world)
    case = s.case_verify(case, actor=u["secretary"], now=MONDAY + 6 * H)
    case = s.case_close(case, actor=u["secretary"], now=MONDAY + 6 * H)
    case = s.case_rate(case, rating=2, now=MONDAY + 7 * H)
    late = MONDAY + datetime.timedelta(days=8)
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_reopen(case, reason="没修好", now=late)
    assert caught.value.message == "A result can be rejected only within 7 days of closing"
    case = s.case_reopen(case, reason="没修好", now=MONDAY + datetime.timedelta(days=3))
    assert case.stage == Stage.IN_PROGRESS and case.is_open and case.reworks == 1
    assert case.rating is None


def test_it_takes_ratings_from_one_to_five_only_after_closing(world: Any, report: Any) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_rate(case, rating=5)
    assert caught.value.message == "A case that is reported cannot be rated"
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_rate(case, rating=6)
    assert caught.value.message == "rating must be a whole number from 1 to 5"


def test_it_rejects_with_a_reason(world: Any, report: Any) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused):
        s.case_reject(case, actor=world.users["worker"], reason="because")
    case = s.case_reject(case, actor=world.users["worker"], reason="out_of_scope", note="私人纠纷")
    assert case.stage == Stage.REJECTED and case.reject_reason == "out_of_scope"
    assert not case.is_open


def test_the_timeline_is_append_only(world: Any, report: Any) -> None:
    case = report()
    event = case.events.get()
    event.note = "changed"
    with pytest.raises(TimelineImmutableError):
        event.save()
    with pytest.raises(TimelineImmutableError):
        event.delete()
    with pytest.raises(TimelineImmutableError):
        CaseEvent.objects.filter(case=case).update(note="x")
    with pytest.raises(TimelineImmutableError):
        CaseEvent.objects.filter(case=case).delete()


def test_it_lists_the_steps_a_user_may_take(world: Any, report: Any) -> None:
    u = world.users
    case = report()
    assert s.allowed_actions(case, u["worker"]) == ["accept", "reject", "escalate"]
    assert "merge" in s.allowed_actions(case, u["dispatcher"])
    assert s.allowed_actions(case, u["auditor"]) == []
    assert s.allowed_actions(case, u["outsider"]) == []


def test_the_demo_takes_cases_through_every_stage(world: Any) -> None:
    from grassroots.cases import stats
    from grassroots.demo.cases import load_cases

    assert load_cases(60, seed=3) == 60
    stages = set(Case.objects.values_list("stage", flat=True))
    assert {"reported", "closed", "rated"} <= stages
    assert CaseEvent.objects.filter(action="handle").exists()
    kept = stats.indicators("350426")
    stats.rebuild_buckets()
    assert stats.indicators("350426") == kept


def test_closing_tells_the_reporters_of_merged_duplicates_too(world: Any, report: Any) -> None:
    from grassroots.cases.models import Notification

    u = world.users
    main = report(reporter_phone="13900139000")
    dup = report(reporter_phone="13700137000")
    s.case_merge(dup, actor=u["dispatcher"], main=main)
    case = _through(main, world)
    case = s.case_verify(case, actor=u["secretary"], now=MONDAY + 6 * H)
    s.case_close(case, actor=u["secretary"], now=MONDAY + 6 * H)
    told = Notification.objects.filter(recipient__isnull=True, subject__contains="is closed")
    assert sorted(n.case.tracking_code for n in told) == sorted(
        [main.tracking_code, dup.tracking_code]
    )
    assert {n.address for n in told} == {"139****9000", "137****7000"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"reporter_phone": "0598-12"},
            "reporter_phone",
            "A landline number has 10 to 12 digits with its area code",
        ),
        ({"lat": None}, "lat", "Give both longitude and latitude"),
        ({"lon": 10.0}, "lon", "lon 10.0 lies outside China"),
        ({"kind": "party"}, "kind", "Unknown case kind party"),
        (
            {"reported_at": MONDAY + datetime.timedelta(days=1)},
            "reported_at",
            "The report time lies in the future",
        ),
        ({"photo_urls": ["ftp://x/y.jpg"]}, "media_url", "Not a web address: ftp://x/y.jpg"),
        (
            {"photos": [SimpleUploadedFile(f"{i}.jpg", JPEG) for i in range(10)]},
            "photos",
            "At most 9 photos",
        ),
        ({"category": ""}, "category", "Category is required"),
        ({"unit": "999999999"}, "unit", "Unknown unit 999999999"),
    ],
)
def test_it_names_each_bad_intake_field(
    world: Any, report: Any, fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(s.CaseInputError) as caught:
        report(**fields)
    assert caught.value.message_dict[field] == [message]
    assert not Case.objects.exists()


def test_it_refuses_an_order_number_taken_in_twice(world: Any, report: Any) -> None:
    report(channel="hotline", external_id="GD-1")
    with pytest.raises(s.CaseInputError) as caught:
        report(channel="hotline", external_id="GD-1")
    assert caught.value.message_dict == {"external_id": ["Order GD-1 was already taken in"]}
    with pytest.raises(s.CaseInputError) as caught:
        report(channel="fax")
    assert caught.value.message_dict == {"channel": ["Unknown channel fax"]}


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            lambda c, u: s.case_reject(c, actor=u["worker"], reason=""),
            "Give the reason for rejecting: invalid, duplicate or out of scope",
        ),
        (
            lambda c, u: s.case_escalate(c, actor=u["worker"], reason=" "),
            "Give the reason for escalating",
        ),
        (
            lambda c, u: s.case_defer(c, actor=u["official"], days=2, reason=""),
            "Give the reason for the extension",
        ),
        (lambda c, u: s.case_reopen(c, reason=""), "Say what is still wrong"),
        (lambda c, u: s.case_accept(c, actor=None), "Only staff may do this: a case accepted"),
    ],
)
def test_it_says_why_a_step_is_refused(world: Any, report: Any, step: Any, message: str) -> None:
    case = report()
    with pytest.raises(s.TransitionRefused) as caught:
        step(case, world.users)
    assert caught.value.message == message
    case.refresh_from_db()
    assert case.version == 1


def test_it_refuses_a_main_case_out_of_scope_or_itself_merged(world: Any, report: Any) -> None:
    u = world.users
    far = report(grid=world.grid_b11)
    dup = report()
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_merge(dup, actor=u["dispatcher"], main=far)
    assert caught.value.message == "The main case lies outside your area"
    main, other = report(), report()
    s.case_merge(other, actor=u["dispatcher"], main=main)
    with pytest.raises(s.TransitionRefused) as caught:
        s.case_merge(dup, actor=u["dispatcher"], main=other)
    assert caught.value.message == "The main case was itself merged into another"
