"""The console's case pages: the dispatcher queue (filters, sorting, bulk steps) and the case
page (facts, both deadlines, photos, timeline, and a form for each step the user may take).

Reads go through cases.selectors with the case list's filters (cases.filters, the API's too),
steps through cases.workflow.run_action: the same checks, refusals and records as the API. Its
refusals come back as messages, bad inputs next to their fields. Cases outside the user's scope
answer 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Case as Switch
from django.db.models import IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from grassroots.accounts.models import User
from grassroots.cases.errors import CaseInputError, TransitionRefused
from grassroots.cases.filters import CaseFilter
from grassroots.cases.intake import normalize_tracking_code
from grassroots.cases.models import TIER_ORDER, Case, CaseEvent, Stage, Tier
from grassroots.cases.presenters import case_detail
from grassroots.cases.selectors import case_list, cases_for
from grassroots.cases.timeline import REPORTER, SYSTEM
from grassroots.cases.workflow import STEPS, allowed_actions, refusal, run_action
from grassroots.territory.models import Grid, Unit
from grassroots.web.paging import sorted_page

from .cases_forms import BULK_ACTIONS, STEP_FORMS, BulkForm, CaseFilterForm, StepForm, step_form

STAGE_ORDER = [
    Stage.REPORTED,
    Stage.ACCEPTED,
    Stage.DISPATCHED,
    Stage.IN_PROGRESS,
    Stage.HANDLED,
    Stage.VERIFIED,
    Stage.CLOSED,
    Stage.RATED,
    Stage.REJECTED,
    Stage.MERGED,
]
SORTS: dict[str, Sequence[str]] = {
    "due": ["due_at"],
    "reported": ["reported_at"],
    "stage": ["stage_rank", "due_at"],
    "tier": ["tier_rank", "due_at"],
    "category": ["category__position", "category__code", "due_at"],
    "code": ["tracking_code"],
}
RESULTS_ID = "case-results"


def _rank(field: str, order: list[Any]) -> Switch:
    return Switch(
        *[When(**{field: value}, then=Value(i)) for i, value in enumerate(order)],
        default=Value(len(order)),
        output_field=IntegerField(),
    )


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def filtered_cases(user: User, filters: CaseFilter) -> QuerySet[Case]:
    """The queue's cases for the filters (selectors.case_list), ranked for the page's sorts."""
    qs = case_list(user, filters, sort=None)
    return qs.annotate(stage_rank=_rank("stage", STAGE_ORDER), tier_rank=_rank("tier", TIER_ORDER))


def _places(user: User) -> list[tuple[str, str]]:
    """Units and grids the user may narrow the queue to (a datalist; the first few hundred)."""
    units = Unit.objects.visible_to(user).order_by("code").values_list("code", "name")[:300]
    grids = Grid.objects.visible_to(user).order_by("code").values_list("code", "name")[:300]
    return sorted([*units, *grids])


def _bulk_actions(user: User) -> list[tuple[str, Any]]:
    return [(a, label) for a, label in BULK_ACTIONS if user.has_perm(STEPS[a].perm)]


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def case_queue(request: HttpRequest) -> HttpResponse:
    """The cases of the user's scope, filtered, sorted and paged; checked rows take bulk steps."""
    user = _user(request)
    form = CaseFilterForm(request.GET or None)
    qs = filtered_cases(user, form.case_filter())
    context: dict[str, Any] = {
        "title": _("Cases"),
        "form": form,
        "now": timezone.now(),
        "bulk_form": BulkForm(user=user),
        "bulk_actions": _bulk_actions(user),
        "places": _places(user),
        "results_id": RESULTS_ID,
        **sorted_page(request, qs, SORTS, "due"),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == RESULTS_ID:
        return render(request, "web/console/_case_results.html", context)
    return render(request, "web/console/case_list.html", context)


def _back_to_queue(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    queue = reverse("console:cases")
    if target.startswith(queue) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect(queue)


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_POST
def case_bulk(request: HttpRequest) -> HttpResponse:
    """One step on every checked case, each through the services; refusals listed per case."""
    user = _user(request)
    form = BulkForm(request.POST, user=user)
    form.fields["codes"].choices = [(c, c) for c in request.POST.getlist("codes")]  # type: ignore[attr-defined]
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_queue(request)
    action = form.cleaned_data["action"]
    data = {"assignee": form.cleaned_data["assignee"], "reason": form.cleaned_data["reason"]}
    found = {
        c.tracking_code: c
        for c in cases_for(user).filter(tracking_code__in=form.cleaned_data["codes"])
    }
    done, refused = 0, []
    for code in form.cleaned_data["codes"]:
        case = found.get(code)
        if case is None:
            refused.append((code, _("no such case in your area")))
            continue
        try:
            run_action(user, case, action, data)
        except TransitionRefused as exc:
            refused.append((code, exc.message))
        except CaseInputError as exc:
            refused.append((code, "; ".join(exc.messages)))
        else:
            done += 1
    summary = _("%(done)d done, %(refused)d refused") % {"done": done, "refused": len(refused)}
    if refused:
        details = "; ".join(f"{code} — {reason}" for code, reason in refused)
        messages.warning(request, f"{summary}: {details}")
    else:
        messages.success(request, summary)
    return _back_to_queue(request)


def _case_in_scope(user: User, code: str) -> Case:
    return get_object_or_404(cases_for(user), tracking_code=normalize_tracking_code(code))


def actions_for(case: Case, user: User) -> list[str]:
    """The steps the page offers: workflow.allowed_actions, plus a note where the user may add
    one."""
    now = timezone.now()
    allowed = set(allowed_actions(case, user, now))
    if refusal(STEPS["note"], case, user, now) is None:
        allowed.add("note")
    return [a for a in STEP_FORMS if a in allowed]


def _labels(choices: Any) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def _case_page(
    request: HttpRequest,
    case: Case,
    bound: tuple[str, StepForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    detail = case_detail(case, user)
    stages, tiers = _labels(Stage.choices), _labels(Tier.choices)
    # The names the services write for steps taken by no user.
    nobody = {REPORTER: _("reporter"), SYSTEM: _("system")}
    for event in detail["timeline"]:
        event["by"] = nobody.get(event["by"], event["by"])
        event["from_stage_label"] = stages.get(event["from_stage"], "")
        event["to_stage_label"] = stages.get(event["to_stage"], "")
        event["from_tier_label"] = tiers.get(event["from_tier"], "")
        event["to_tier_label"] = tiers.get(event["to_tier"], "")
        event["photos"] = [{"url": u, "stored": u.startswith("/api/")} for u in event["photos"]]
    offered = actions_for(case, user)
    if bound is not None and bound[0] not in offered:
        offered.append(bound[0])
    steps = []
    for action in offered:
        form_class, label, confirm = STEP_FORMS[action]
        form = bound[1] if bound and bound[0] == action else step_form(action, case, user)
        steps.append(
            {
                "action": action,
                "label": label,
                "confirm": confirm,
                "form": form,
                "url": reverse("console:case_step", args=[case.tracking_code, action]),
                "multipart": "photos" in form.fields,
                "open": bool(bound and bound[0] == action),
            }
        )
    shown = set(
        Case.objects.visible_to(user)
        .filter(tracking_code__in=detail["possible_duplicates"])
        .values_list("tracking_code", flat=True)
    )
    now = timezone.now()
    context = {
        "title": _("Case %(code)s") % {"code": case.tracking_code},
        "case": case,
        "d": detail,
        "now": now,
        # How late it is against its due date; the tier's deadline beside it.
        "late": case.late_by(now),
        "late_until": now if case.is_open else (case.handled_at or case.closed_at),
        "tier_passed": case.tier_due_at <= now,
        "steps": steps,
        "duplicates": [(c, c in shown) for c in detail["possible_duplicates"]],
        "channel_label": _labels(Case.Channel.choices).get(case.channel, case.channel),
        "tier_label": tiers.get(case.tier, case.tier),
        "kind_label": _labels(Case.Kind.choices).get(case.kind, case.kind),
        "reject_label": _labels(Case.RejectReason.choices).get(case.reject_reason, ""),
        "photo_count": sum(len(e["photos"]) for e in detail["timeline"]),
    }
    return render(request, "web/console/case_detail.html", context, status=status)


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def case_page(request: HttpRequest, code: str) -> HttpResponse:
    """One case in scope: its facts, photos, timeline, and the steps the user may take."""
    return _case_page(request, _case_in_scope(_user(request), code))


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_POST
def case_step(request: HttpRequest, code: str, action: str) -> HttpResponse:
    """Take one step on a case; field errors come back next to the fields, refusals (someone
    changed the case meanwhile, a stage that does not allow it) as a message on the page."""
    user = _user(request)
    case = _case_in_scope(user, code)
    if action not in STEP_FORMS:
        raise Http404
    form = step_form(action, case, user, request.POST, request.FILES)
    if not form.is_valid():
        return _case_page(request, case, (action, form), status=400)
    try:
        run_action(user, case, action, form.service_data(), form.uploaded_photos())
    except TransitionRefused as exc:
        messages.error(request, exc.message)
        return redirect("console:case", code=case.tracking_code)
    except CaseInputError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _case_page(request, case, (action, form), status=400)
    messages.success(
        request,
        _("Case %(code)s: %(step)s")
        % {"code": case.tracking_code, "step": CaseEvent.Action(action).label},
    )
    return redirect("console:case", code=case.tracking_code)
