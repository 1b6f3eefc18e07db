"""Notifications: who is told at each tier, digests, the backends, retries, and who sees them."""

from __future__ import annotations

import datetime
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.db.models import Q
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from grassroots.accounts.models import ApiToken, User
from grassroots.audit.models import Event
from grassroots.cases import notify
from grassroots.cases import services as s
from grassroots.cases.models import Notification
from grassroots.cases.notify import deliver_due, notification_retry, tell_reporter, tell_tier
from grassroots.cases.notify_backends import ConsoleBackend, sign
from grassroots.cases.sweep import sweep
from tests import factories as f
from tests.cases import factories as cf
from tests.cases.conftest import MONDAY

Status = Notification.Status
API = "/api/v1"


@pytest.fixture(autouse=True)
def console_only(settings: Any) -> Any:
    settings.NOTIFICATION_BACKENDS = ["console"]
    settings.NOTIFICATION_MAX_ATTEMPTS = 5
    settings.NOTIFICATION_RETRY_SECONDS = 60
    settings.NOTIFICATION_WEBHOOK_URL = ""
    settings.NOTIFICATION_WEBHOOK_TOKEN = ""
    settings.NOTIFICATION_WEBHOOK_SECRET = ""
    return settings


@pytest.fixture
def handlers(world: Any) -> dict[str, User]:
    """Department handlers at county scope: the environment category's department, and another."""
    return {
        "city": f.user("cityman", "department_handler", "350426", department="县城市管理局"),
        "civil": f.user("civilman", "department_handler", "350426", department="县民政局"),
    }


def told(rows: Any = None) -> set[str | None]:
    rows = Notification.objects.all() if rows is None else rows
    return {row.recipient.username if row.recipient else None for row in rows}


# --- Who is told ------------------------------------------------------------------------------


def test_it_tells_the_grid_worker_about_a_case_in_their_grid(world):
    case = cf.case(world.grid_a11)
    assert tell_tier([case], tier="grid", subject="New case", body="Please look.") == 1
    row = Notification.objects.get()
    assert row.recipient == world.users["worker"]
    assert (row.backend, row.address, row.status) == ("console", "worker", Status.PENDING)
    assert row.case == case
    assert row.scope_code == world.grid_a11.code
    assert row.subject == "New case"
    assert row.body == f"Please look.\n\nCase: {case.tracking_code}"


@pytest.mark.parametrize(
    ("tier", "people"),
    [
        ("grid", {"worker"}),
        ("village", {"secretary"}),
        ("town", {"official", "dispatcher"}),
        # The handlers of the category's department (环境卫生: 县城市管理局), and the county's
        # administrator; not the town's dispatcher, whose role may act at county tier too.
        ("county", {"admin", "cityman"}),
    ],
)
def test_it_tells_the_nearest_people_acting_at_the_tier(world, handlers, tier, people):
    case = cf.case(world.grid_a11, tier=tier)
    tell_tier([case], tier=tier, subject="s", body="b")
    assert told() == people


@pytest.mark.parametrize("tier", ["grid", "village", "town", "county"])
def test_it_never_tells_an_outsider_about_town_a(world, handlers, tier):
    cases = [cf.case(g, tier=tier) for g in (world.grid_a11, world.grid_a12, world.grid_a21)]
    tell_tier(cases, tier=tier, subject="s", body="b")
    assert "outsider" not in told()
    assert "auditor" not in told()


def test_the_town_b_official_hears_of_a_grid_without_a_worker_in_town_b(world):
    # Grid B1-1 has no worker and village B1 no secretary: the town's official is the nearest.
    tell_tier([cf.case(world.grid_b11)], tier="grid", subject="s", body="b")
    assert told() == {"outsider"}


def test_a_grid_whose_worker_left_is_told_to_its_village(world):
    User.objects.filter(username="worker").update(is_active=False)
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    assert told() == {"secretary"}


def test_a_worker_of_two_grids_is_told_about_both(world):
    cases = [cf.case(world.grid_a12), cf.case(world.grid_a21)]
    assert tell_tier(cases, tier="grid", subject="s", body="b") == 1
    row = Notification.objects.get()
    assert row.recipient == world.users["worker2"]
    # A digest about two villages belongs to the town holding both.
    assert (row.case, row.scope_code) == (None, "350426100")


def test_a_case_in_a_units_queue_is_told_to_that_unit(world):
    tell_tier([cf.case(unit=world.village_a1)], tier="grid", subject="s", body="b")
    assert told() == {"secretary"}


def test_a_tier_nobody_serves_leaves_one_row_for_the_dispatchers(world):
    # Nobody at town A, nor above it (the county administrator would be told otherwise).
    User.objects.filter(username__in=["official", "dispatcher", "admin"]).update(is_active=False)
    cases = [cf.case(world.grid_a11, tier="town"), cf.case(world.grid_a21, tier="town")]
    assert tell_tier(cases, tier="town", subject="Escalated", body="b") == 1
    row = Notification.objects.get()
    assert (row.recipient, row.case, row.scope_code) == (None, None, "350426100")
    assert row.status == Status.GAVE_UP
    assert row.last_error == (
        "Nobody serves the Town/street tier of 城关镇 350426100: no one was told."
    )
    assert sorted(c.tracking_code for c in cases)[0] in row.body
    assert deliver_due() == notify.DeliveryResult(0, 0, 0)


def test_a_county_case_of_a_department_without_handlers_tells_the_county(world, handlers):
    case = cf.case(world.grid_a11, category="dispute", tier="county")  # 县司法局: nobody
    tell_tier([case], tier="county", subject="s", body="b")
    assert told() == {"admin"}


# --- Escalation: who loses the case is told --------------------------------------------------


def lost() -> list[tuple[str, str]]:
    """Who was told they lost cases, with the message's body, in order of username."""
    rows = Notification.objects.filter(
        Q(subject__contains="no longer yours") | Q(subject__startswith="Escalated away from you")
    )
    return sorted((row.recipient.username, row.body) for row in rows if row.recipient)


def test_the_assignee_who_loses_an_escalated_case_is_told(world, report):
    case = report(grid=world.grid_a12)
    s.case_accept(case, actor=world.users["secretary"], now=MONDAY)
    s.case_dispatch(
        case, actor=world.users["secretary"], assignee=world.users["worker2"], now=MONDAY
    )
    Notification.objects.all().delete()
    s.case_escalate(case, actor=world.users["official"], reason="需要镇里协调", now=MONDAY)
    (row,) = Notification.objects.filter(subject__contains="no longer yours")
    assert row.recipient == world.users["worker2"]
    assert row.subject == (
        f"Case {case.tracking_code} escalated to the Village/community tier: no longer yours"
    )
    assert row.body == (
        f"The tier above handles it now; its timeline says why.\n\nCase: {case.tracking_code}"
    )
    assert row.case == case
    # The village hears the case is theirs.
    assert told(Notification.objects.filter(subject__contains="escalated to you")) == {"secretary"}


def test_a_handler_who_escalates_their_own_case_is_not_told_they_lost_it(world, report):
    case = report()
    s.case_accept(case, actor=world.users["worker"], now=MONDAY)
    s.case_dispatch(
        case, actor=world.users["secretary"], assignee=world.users["worker"], now=MONDAY
    )
    Notification.objects.all().delete()
    s.case_escalate(case, actor=world.users["worker"], reason="超出网格能力", now=MONDAY)
    assert lost() == []
    assert told() == {"secretary"}


def test_a_case_nobody_held_tells_the_tier_it_left_but_not_who_escalated_it(world, report):
    case = report()
    Notification.objects.all().delete()
    s.case_escalate(case, actor=world.users["secretary"], reason="需要村里处理", now=MONDAY)
    assert [who for who, _ in lost()] == ["worker"]  # the grid's worker: the tier it left


def test_the_sweep_tells_each_holder_and_each_tier_what_it_lost(world, report):
    other = f.user("worker3", "grid_worker", world.grid_a11.code)
    held = report()
    s.case_accept(held, actor=world.users["worker"], now=MONDAY)
    s.case_dispatch(held, actor=world.users["secretary"], assignee=other, now=MONDAY)
    free = [report(), report()]
    Notification.objects.all().delete()
    assert sweep(now=MONDAY + datetime.timedelta(days=3)).escalated == 3
    codes = sorted(c.tracking_code for c in free)
    digest = "\n".join(["The tier above handles it now; its timeline says why.", "", "2 cases:"])
    assert lost() == [
        # Both of the grid's workers lost the cases nobody held; worker3 also the one it held.
        ("worker", "\n".join([digest, *codes])),
        ("worker3", "\n".join([digest, *codes])),
        (
            "worker3",
            f"The tier above handles it now; its timeline says why.\n\nCase: {held.tracking_code}",
        ),
    ]


# --- Digests ----------------------------------------------------------------------------------


def test_it_sends_one_digest_per_person_in_a_bounded_number_of_queries(
    world, django_assert_max_num_queries
):
    mine = [cf.case(world.grid_a11) for _ in range(120)]
    theirs = [cf.case(world.grid_a12) for _ in range(3)]
    elsewhere = [cf.case(world.grid_b11) for _ in range(2)]
    everything = [*mine, *theirs, *elsewhere]
    # Candidate users, grid workers' grids, one INSERT: the same for 3 cases or 125.
    with django_assert_max_num_queries(3):
        assert tell_tier(everything[-3:], tier="grid", subject="s", body="b") == 2
    Notification.objects.all().delete()
    with django_assert_max_num_queries(3):
        assert tell_tier(everything, tier="grid", subject="s", body="Deadline passed.") == 3
    rows = {row.recipient.username: row for row in Notification.objects.all()}
    assert set(rows) == {"worker", "worker2", "outsider"}
    lines = rows["worker"].body.splitlines()
    codes = sorted(case.tracking_code for case in mine)
    assert lines[:3] == ["Deadline passed.", "", "120 cases:"]
    assert lines[3:53] == codes[:50]
    assert lines[53:] == ["and 70 more"]
    assert rows["worker"].case is None
    assert rows["worker2"].body.splitlines()[2:] == [
        "3 cases:",
        *sorted(c.tracking_code for c in theirs),
    ]


# --- Backends and addresses -------------------------------------------------------------------


def test_it_writes_a_row_per_backend_that_reaches_the_person(world, settings):
    settings.NOTIFICATION_BACKENDS = ["console", "email"]
    User.objects.filter(username="worker").update(email="worker@example.com")
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    rows = {row.backend: row.address for row in Notification.objects.all()}
    # Addresses are shown masked; the full one is looked up when the message is sent.
    assert rows == {"console": "worker", "email": "w***@example.com"}


def test_a_person_no_backend_reaches_is_a_failure_a_dispatcher_sees(world, settings):
    settings.NOTIFICATION_BACKENDS = ["email", "webhook"]
    settings.NOTIFICATION_WEBHOOK_URL = "http://127.0.0.1:9/"
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    row = Notification.objects.get()
    assert (row.recipient.username, row.backend, row.status) == ("worker", "email", "gave_up")
    assert row.last_error == "worker cannot be reached: no email address; no mobile number."


def test_it_refuses_a_backend_it_does_not_know(world, settings):
    settings.NOTIFICATION_BACKENDS = ["console", "pigeon"]
    with pytest.raises(ImproperlyConfigured, match="known backends: console, email, webhook"):
        tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")


def test_it_enqueues_delivery_once_the_transaction_commits(
    world, django_capture_on_commit_callbacks
):
    waiting = DBTaskResult.objects.filter(
        task_path="grassroots.cases.tasks.deliver_notifications", status="READY"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    assert len(callbacks) == 1 and not waiting.exists()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    # One waiting task sends everything committed before it runs.
    assert waiting.count() == 1


def test_the_console_backend_prints_the_message(world, capsys):
    case = cf.case(world.grid_a11)
    tell_tier([case], tier="grid", subject="New case 路灯", body="Street light broken.")
    assert deliver_due() == notify.DeliveryResult(sent=1)
    out = capsys.readouterr().out
    assert f"to worker (case {case.tracking_code})" in out
    assert "Subject: New case 路灯" in out
    assert "Street light broken." in out
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 1, "")
    assert row.sent_at is not None


def test_the_email_backend_sends_through_django(world, settings):
    settings.NOTIFICATION_BACKENDS = ["email"]
    settings.DEFAULT_FROM_EMAIL = "dispatch@example.org"
    User.objects.filter(username="secretary").update(email="sec@example.com")
    case = cf.case(world.grid_a11, tier="village")
    tell_tier([case], tier="village", subject="Escalated:\n 路灯", body="b")
    assert deliver_due() == notify.DeliveryResult(sent=1)
    (message,) = mail.outbox
    assert (message.to, message.subject, message.from_email) == (
        ["sec@example.com"],
        "Escalated: 路灯",  # one line: a line break in a header is refused
        "dispatch@example.org",
    )
    assert message.body == f"b\n\nCase: {case.tracking_code}"


def test_a_person_whose_address_went_missing_is_given_up_at_once(world, settings):
    settings.NOTIFICATION_BACKENDS = ["email"]
    User.objects.filter(username="worker").update(email="worker@example.com")
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    User.objects.filter(username="worker").update(email="")
    assert deliver_due() == notify.DeliveryResult(gave_up=1)
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.last_error) == (Status.GAVE_UP, 1, "no email address")


# --- The reporter -----------------------------------------------------------------------------


def test_it_tells_the_reporter_by_sms_email_and_console(world, settings):
    settings.NOTIFICATION_BACKENDS = ["console", "email", "webhook"]
    settings.NOTIFICATION_WEBHOOK_URL = "http://127.0.0.1:9/"
    case = cf.case(world.grid_a11, reporter_phone="13800138000", reporter_email="zhang@example.com")
    row = tell_reporter(case, subject="Your case was closed", body="Thank you.")
    assert row is not None and row.backend == "webhook"
    rows = {r.backend: r for r in Notification.objects.all()}
    assert {b: r.address for b, r in rows.items()} == {
        "console": "138****8000",
        "email": "z***@example.com",
        "webhook": "138****8000",
    }
    assert {(r.recipient, r.case, r.scope_code) for r in rows.values()} == {
        (None, case, world.grid_a11.code)
    }
    deliver_due()
    assert mail.outbox[0].to == ["zhang@example.com"]


def test_a_reporter_without_a_phone_or_email_is_not_told(world):
    assert tell_reporter(cf.case(world.grid_a11), subject="s", body="b") is None
    assert not Notification.objects.exists()


def test_a_reporter_only_the_missing_backends_could_reach_is_not_told(world, settings):
    settings.NOTIFICATION_BACKENDS = ["email"]
    case = cf.case(world.grid_a11, reporter_phone="13800138000")
    assert tell_reporter(case, subject="s", body="b") is None


# --- The webhook, against a real HTTP server --------------------------------------------------


@contextmanager
def webhook_server(status: int = 200, delay: float = 0.0) -> Iterator[tuple[str, list[Any]]]:
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            calls.append({"path": self.path, "headers": dict(self.headers), "body": data})
            if delay:
                time.sleep(delay)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"queued" if status < 400 else b"gateway overloaded")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sms", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook(settings: Any) -> Any:
    settings.NOTIFICATION_BACKENDS = ["webhook"]
    settings.NOTIFICATION_WEBHOOK_URL = "http://127.0.0.1:9/"  # each test starts its server
    settings.NOTIFICATION_WEBHOOK_TOKEN = "gateway-token"
    settings.NOTIFICATION_WEBHOOK_SECRET = "shared-secret"
    settings.NOTIFICATION_WEBHOOK_TIMEOUT = 5
    User.objects.filter(username="worker").update(phone="13912345678")
    return settings


def test_the_webhook_posts_signed_json(world, webhook):
    case = cf.case(world.grid_a11)
    with webhook_server() as (url, calls):
        webhook.NOTIFICATION_WEBHOOK_URL = url
        tell_tier([case], tier="grid", subject="New case", body="Look at it.")
        assert deliver_due() == notify.DeliveryResult(sent=1)
    (call,) = calls
    row = Notification.objects.get()
    assert call["path"] == "/sms"
    assert json.loads(call["body"]) == {
        "id": row.pk,
        "to": "13912345678",
        "subject": "New case",
        "body": f"Look at it.\n\nCase: {case.tracking_code}",
        "case": case.pk,
        "tracking_code": case.tracking_code,
    }
    headers = call["headers"]
    assert headers["Authorization"] == "Bearer gateway-token"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    expected = sign("shared-secret", headers["X-Grassroots-Timestamp"], call["body"])
    assert hmac.compare_digest(headers["X-Grassroots-Signature"], "sha256=" + expected)
    assert row.address == "139****5678"  # never stored in full


def test_the_webhook_sends_a_reporter_sms_to_their_phone(world, webhook):
    case = cf.case(world.grid_a11, reporter_phone="13700137000")
    with webhook_server() as (url, calls):
        webhook.NOTIFICATION_WEBHOOK_URL = url
        tell_reporter(case, subject="Received", body="We have your report.")
        deliver_due()
    assert json.loads(calls[0]["body"])["to"] == "13700137000"


def test_a_failing_gateway_is_retried_with_backoff_then_given_up(world, webhook):
    webhook.NOTIFICATION_MAX_ATTEMPTS = 3
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    now = timezone.now()
    row = Notification.objects.get()
    with webhook_server(status=503) as (url, calls):
        webhook.NOTIFICATION_WEBHOOK_URL = url
        assert deliver_due(now) == notify.DeliveryResult(failed=1)
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Status.FAILED, 1)
        assert row.last_error == "webhook: HTTP 503 gateway overloaded"
        assert row.next_attempt_at == now + datetime.timedelta(seconds=60)
        # Not due yet: nothing is sent.
        assert deliver_due(now + datetime.timedelta(seconds=59)) == notify.DeliveryResult()
        second = now + datetime.timedelta(seconds=60)
        assert deliver_due(second) == notify.DeliveryResult(failed=1)
        row.refresh_from_db()
        assert row.attempts == 2
        assert row.next_attempt_at == second + datetime.timedelta(seconds=120)
        assert deliver_due(row.next_attempt_at) == notify.DeliveryResult(gave_up=1)
        assert deliver_due(row.next_attempt_at + datetime.timedelta(days=1)).total == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.GAVE_UP, 3)
    assert len(calls) == 3


def test_a_gateway_that_does_not_answer_in_time_is_a_failed_try(world, webhook):
    webhook.NOTIFICATION_WEBHOOK_TIMEOUT = 0.2
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    with webhook_server(delay=1) as (url, _calls):
        webhook.NOTIFICATION_WEBHOOK_URL = url
        assert deliver_due() == notify.DeliveryResult(failed=1)
    assert Notification.objects.get().last_error == "webhook: timed out after 0.2 s"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_gateway_holds_back_the_rest_of_the_batch(world, webhook):
    webhook.NOTIFICATION_WEBHOOK_URL = f"http://127.0.0.1:{_closed_port()}/sms"
    users = [
        f.user(f"w{i}", "grid_worker", world.grid_b11.code, phone=f"1391234000{i}")
        for i in range(5)
    ]
    tell_tier([cf.case(world.grid_b11)], tier="grid", subject="s", body="b")
    assert Notification.objects.count() == len(users)
    assert deliver_due() == notify.DeliveryResult(failed=notify.OUTAGE_LIMIT)
    untouched = Notification.objects.filter(attempts=0, status=Status.PENDING)
    assert untouched.count() == len(users) - notify.OUTAGE_LIMIT
    assert "webhook: " in Notification.objects.filter(attempts=1).first().last_error


def test_a_webhook_without_a_url_is_refused_by_the_checks(settings):
    from grassroots.cases.notify_backends import check_notification_settings

    settings.NOTIFICATION_BACKENDS = ["webhook"]
    settings.NOTIFICATION_WEBHOOK_URL = ""
    (error,) = check_notification_settings()
    assert error.msg == "NOTIFICATION_BACKENDS names webhook but NOTIFICATION_WEBHOOK_URL is empty"


# --- Claiming: two workers at once --------------------------------------------------------------


def test_a_second_worker_does_not_send_what_the_first_is_sending(world, monkeypatch, capsys):
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    now = timezone.now()
    send = ConsoleBackend.send
    nested: list[notify.DeliveryResult] = []

    def send_while_another_worker_runs(self: Any, row: Any, address: str) -> None:
        nested.append(deliver_due(now))  # the other worker, in the middle of this send
        send(self, row, address)

    monkeypatch.setattr(ConsoleBackend, "send", send_while_another_worker_runs)
    assert deliver_due(now) == notify.DeliveryResult(sent=1)
    assert nested == [notify.DeliveryResult()]
    assert capsys.readouterr().out.count("--- notification") == 1


def test_a_row_changed_after_it_was_read_is_left_to_whoever_changed_it(world, monkeypatch):
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    now = timezone.now()
    read = notify.due_rows

    def read_then_claimed_elsewhere(now: Any, limit: int) -> list[Notification]:
        rows = read(now, limit)
        Notification.objects.update(attempts=1)  # another worker claimed them meanwhile
        return rows

    monkeypatch.setattr(notify, "due_rows", read_then_claimed_elsewhere)
    assert deliver_due(now) == notify.DeliveryResult()


def test_a_send_cut_short_by_a_crash_is_tried_again_after_the_lease(world):
    tell_tier([cf.case(world.grid_a11)], tier="grid", subject="s", body="b")
    now = timezone.now()
    # A worker claimed it and died before recording the outcome.
    Notification.objects.update(attempts=1, next_attempt_at=now + notify.CLAIM_LEASE)
    assert deliver_due(now).total == 0
    assert deliver_due(now + notify.CLAIM_LEASE) == notify.DeliveryResult(sent=1)
    assert Notification.objects.get().attempts == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two connections writing at once: PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_send_each_message_once(world, monkeypatch):
    for i in range(40):
        f.user(f"w{i}", "grid_worker", world.grid_b11.code)
    assert tell_tier([cf.case(world.grid_b11)], tier="grid", subject="s", body="b") == 40
    sent: list[int] = []
    lock = threading.Lock()

    def send(self: Any, row: Any, address: str) -> None:
        with lock:
            sent.append(row.pk)
        time.sleep(0.005)  # long enough for the two workers to interleave

    monkeypatch.setattr(ConsoleBackend, "send", send)
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def worker() -> None:
        try:
            start.wait(5)
            outcomes.append(deliver_due())
        except Exception as exc:  # reported below
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(isinstance(o, notify.DeliveryResult) for o in outcomes), outcomes
    assert sum(o.sent for o in outcomes) == 40
    assert sorted(sent) == sorted(Notification.objects.values_list("pk", flat=True))
    assert Notification.objects.filter(status=Status.SENT, attempts=1).count() == 40


# --- Dispatchers: the API and the admin --------------------------------------------------------


def api(user: Any) -> Any:
    client = Client()
    token = ApiToken.issue(user)[1]
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    class Caller:
        def get(self, path: str, **params: Any) -> Any:
            return client.get(API + path, params, headers=headers)

        def post(self, path: str) -> Any:
            return client.post(API + path, headers=headers)

    return Caller()


@pytest.fixture
def rows(world: Any) -> dict[str, Notification]:
    """A given-up send in town A, a sent one in town A, a queue nobody serves, one in town B."""
    a11, b11 = cf.case(world.grid_a11), cf.case(world.grid_b11)
    common = {"backend": "console", "subject": "s", "body": "b"}
    return {
        "failed": Notification.objects.create(
            case=a11,
            recipient=world.users["worker"],
            scope_code=a11.scope_code,
            address="worker",
            status=Status.GAVE_UP,
            attempts=5,
            last_error="boom",
            **common,
        ),
        "sent": Notification.objects.create(
            case=a11,
            recipient=world.users["worker"],
            scope_code=a11.scope_code,
            address="worker",
            status=Status.SENT,
            **common,
        ),
        "nobody": Notification.objects.create(
            scope_code="350426100",
            status=Status.GAVE_UP,
            last_error="Nobody serves the Town/street tier of 城关镇 350426100: no one was told.",
            **{**common, "backend": ""},
        ),
        "town_b": Notification.objects.create(
            case=b11,
            recipient=world.users["outsider"],
            scope_code=b11.scope_code,
            address="outsider",
            status=Status.GAVE_UP,
            **common,
        ),
    }


def test_a_dispatcher_lists_the_notifications_of_their_town(world, rows):
    response = api(world.users["dispatcher"]).get("/notifications")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert {item["id"] for item in data["items"]} == {
        rows[k].pk for k in ("failed", "sent", "nobody")
    }
    item = next(i for i in data["items"] if i["id"] == rows["failed"].pk)
    assert item["recipient"] == "worker"
    assert item["case"] == rows["failed"].case.tracking_code
    assert (item["status"], item["attempts"], item["last_error"]) == ("gave_up", 5, "boom")


def test_a_dispatcher_filters_by_status(world, rows):
    data = api(world.users["dispatcher"]).get("/notifications", status="gave_up").json()
    assert {i["id"] for i in data["items"]} == {rows["failed"].pk, rows["nobody"].pk}
    bad = api(world.users["dispatcher"]).get("/notifications", status="lost")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


def test_an_outsider_sees_none_of_town_a(world, rows):
    data = api(world.users["outsider"]).get("/notifications").json()
    assert [i["id"] for i in data["items"]] == [rows["town_b"].pk]
    response = api(world.users["outsider"]).post(f"/notifications/{rows['failed'].pk}/retry")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_a_grid_worker_may_not_read_notifications(world, rows):
    response = api(world.users["worker"]).get("/notifications")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role lacks the permission cases.view_notification"}


def test_a_dispatcher_retries_a_given_up_notification(
    world, rows, capsys, django_capture_on_commit_callbacks
):
    failed = rows["failed"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users["dispatcher"]).post(f"/notifications/{failed.pk}/retry")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    event = Event.objects.get(object_type="cases.notification")
    assert (event.actor_name, event.object_id, event.reason) == (
        "dispatcher",
        str(failed.pk),
        "retry",
    )
    assert event.changes == {"status": ["gave_up", "pending"], "attempts": [5, 0]}
    assert DBTaskResult.objects.filter(
        task_path="grassroots.cases.tasks.deliver_notifications"
    ).exists()
    assert deliver_due() == notify.DeliveryResult(sent=1)


def test_a_sent_notification_is_not_retried(world, rows):
    response = api(world.users["dispatcher"]).post(f"/notifications/{rows['sent'].pk}/retry")
    assert response.status_code == 409
    assert response.json() == {"detail": "This notification was sent; there is nothing to retry."}


def test_a_row_with_nobody_to_send_to_is_not_retried(world, rows):
    response = api(world.users["dispatcher"]).post(f"/notifications/{rows['nobody'].pk}/retry")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Nobody to send this to: no user served the tier when it was written."
    }


def test_the_retry_service_checks_the_actor(world, rows):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        notification_retry(rows["failed"], actor=world.users["outsider"])
    with pytest.raises(PermissionDenied):
        notification_retry(rows["failed"], actor=world.users["worker"])


def test_the_admin_lists_notifications_in_scope_and_retries_them(world, rows):
    from django.conf import settings

    client = Client()
    client.force_login(world.users["dispatcher"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the admin's messages in English
    url = "/admin/cases/notification/"
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3
    assert rows["town_b"] not in page.context["cl"].result_list
    response = client.post(
        url,
        {"action": "retry", "_selected_action": [rows["failed"].pk, rows["sent"].pk]},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert "1 notification will be sent again." in shown
    assert "This notification was sent; there is nothing to retry. (1)" in shown
    rows["failed"].refresh_from_db()
    assert rows["failed"].status == Status.PENDING
    outsider = Client()
    outsider.force_login(world.users["outsider"])
    assert outsider.get(f"{url}{rows['failed'].pk}/change/").status_code == 404
    assert outsider.get(url).context["cl"].result_count == 1
