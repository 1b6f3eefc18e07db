"""Forms of the console's case pages: the queue's filters, its bulk actions, and one form per
workflow step of the case page. They only parse input: what the filters mean and accept is
cases.filters.CaseFilter's (the API's too), and the steps run in cases.workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.models import User
from grassroots.accounts.roles import ROLE_PERMISSIONS
from grassroots.cases.filters import CaseFilter
from grassroots.cases.intake import MAX_PHOTOS, normalize_tracking_code
from grassroots.cases.models import Case, Category, Stage, Tier
from grassroots.cases.workflow import MAX_DEFER_DAYS, may_act_at

_BLANK = [("", _("Any"))]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several photos in one input (the services check their type and size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _code_field(label: Any, help_text: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "list": "case-places"}),
    )


def _select(label: Any, choices: Any) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=forms.Select(choices=choices))


def _date(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class CaseFilterForm(forms.Form):
    """The queue's filters as the page shows them (a GET form). Its fields are those of
    cases.filters.CaseFilter, under the same names: the labels and widgets are the page's, what
    a value means and whether it is accepted is the filter's, and its refusals come back here
    next to their fields."""

    q = forms.CharField(
        label=_("Tracking code"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocapitalize": "characters"}),
    )
    open = _select(
        _("Open or closed"),
        [("true", _("Open")), ("false", _("Closed")), ("", _("Open and closed"))],
    )
    stage = _select(_("Stage"), [*_BLANK, *Stage.choices])
    category = _select(_("Category"), _BLANK)
    tier = _select(_("Tier"), [*_BLANK, *Tier.choices])
    channel = _select(_("Channel"), [*_BLANK, *Case.Channel.choices])
    scope = _code_field(_("Area"), _("A unit or grid code"))
    queue = _code_field(_("Unit queue"), _("A unit's cases that are in no grid"))
    since = _date(_("Reported from"))
    until = _date(_("Reported until"))
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    urgent = forms.BooleanField(label=_("Urgent only"), required=False)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)

    # The queue shows the open cases unless the query asks otherwise (`open=` for all).
    DEFAULTS = {"open": "true"}
    # Links and bookmarks from before the filters were one (status=open|closed|all) still
    # open the same list; `open`, when given, wins.
    LEGACY_STATUS = {"open": "true", "closed": "false", "all": ""}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].widget.choices = [  # type: ignore[attr-defined]
            *_BLANK,
            *Category.objects.filter(active=True).values_list("code", "name"),
        ]
        self.filters = CaseFilter()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        query = {**self.DEFAULTS, **{name: self.data.get(name) for name in self.data}}
        legacy = self.LEGACY_STATUS.get(self.data.get("status") or "")
        if legacy is not None and "open" not in self.data:
            query["open"] = legacy
        self.filters, errors = CaseFilter.parse_leniently(query)
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)
        return data

    def case_filter(self) -> CaseFilter:
        """The filters the page asks for (those refused left out, their errors on the form)."""
        if self.is_bound:
            self.is_valid()
            return self.filters
        return CaseFilter.parse_leniently(self.DEFAULTS)[0]


BULK_ACTIONS = [
    ("accept", _("Accept")),
    ("dispatch", _("Dispatch to")),
    ("escalate", _("Escalate")),
    ("close", _("Close")),
]


def handler_choices(users: Any) -> list[tuple[str, str]]:
    """(username, "Name (username)") of the users who may work on cases."""
    return [
        (u.get_username(), f"{u.get_full_name() or u.get_username()} ({u.get_username()})")
        for u in users
        if u.has_perm("cases.handle_case")
    ]


def may_handle_cases() -> Q:
    """Users who hold cases.handle_case, as `has_perm` decides it (by role, by a grant to them
    or to a group of theirs, or as superusers), in one query instead of two per user."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if "cases.handle_case" in perms]
    granted = Permission.objects.filter(content_type__app_label="cases", codename="handle_case")
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission__in=granted
    )
    grouped = User.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__permissions__in=granted
    )
    return Q(role__in=roles) | Q(is_superuser=True) | Exists(direct) | Exists(grouped)


def handlers_in_scope(user: User) -> list[tuple[str, str]]:
    """People the user could dispatch to: active case workers within the user's scope (the
    first 500 by username)."""
    users = (
        User.objects.visible_to(user)
        .filter(may_handle_cases(), is_active=True)
        .order_by("username")[:500]
    )
    return [
        (u.get_username(), f"{u.get_full_name() or u.get_username()} ({u.get_username()})")
        for u in users
    ]


def handlers_for(case: Case) -> list[tuple[str, str]]:
    """People a case can be dispatched to: they work at its tier over its place."""
    code = case.scope_code
    above = [code[:n] for n in (6, 9, 12, 15) if len(code) >= n]
    users = (
        User.objects.filter(is_active=True)
        .filter(Q(scope_code__in=above) | Q(grid_assignments__grid__code__in=above))
        .distinct()
        .order_by("username")
    )
    return handler_choices([u for u in users if may_act_at(u, case)])


# One bulk step takes at most a full page of the queue (paging.MAX_PER_PAGE).
BULK_LIMIT = 200


class BulkForm(forms.Form):
    """A step taken on the checked rows of the queue, one case after another."""

    action = forms.ChoiceField(label=_("Action"), choices=BULK_ACTIONS)
    codes = forms.MultipleChoiceField(
        label=_("Cases"), error_messages={"required": _("Tick at least one case")}
    )
    assignee = forms.ChoiceField(label=_("Handler"), required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "—"), *handlers_in_scope(user)]  # type: ignore[attr-defined]

    def clean_codes(self) -> list[str]:
        codes = [normalize_tracking_code(c) for c in self.cleaned_data["codes"]]
        if len(codes) > BULK_LIMIT:
            raise forms.ValidationError(
                _("At most %(limit)d cases at a time: %(count)d are ticked."),
                params={"limit": BULK_LIMIT, "count": len(codes)},
            )
        return codes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "dispatch" and not data.get("assignee"):
            self.add_error("assignee", _("Choose who handles the cases"))
        if data.get("action") == "escalate" and len((data.get("reason") or "").strip()) < 2:
            self.add_error("reason", _("Give the reason for escalating"))
        return data


# --- The steps of the case page --------------------------------------------------------------


class StepForm(forms.Form):
    """What every step sends: the version the page showed (a stale page is refused)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def service_data(self) -> dict[str, Any]:
        """The inputs cases.workflow.run_action takes."""
        return {k: v for k, v in self.cleaned_data.items() if k != "photos"}

    def uploaded_photos(self) -> list[Any]:
        return list(self.cleaned_data.get("photos") or [])


def _note(required: bool = False, label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Note"),
        required=required,
        max_length=4000,
        min_length=2 if required else None,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _reason(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason"),
        min_length=2,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _photos() -> MultipleFileField:
    return MultipleFileField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to %(n)d photos: JPEG, PNG, WebP or HEIC") % {"n": MAX_PHOTOS},
    )


class NoteOptionalForm(StepForm):
    note = _note()


class NoteRequiredForm(StepForm):
    note = _note(required=True)


class WorkForm(StepForm):
    note = _note(required=True, label=_("What was done"))
    photos = _photos()


class RejectForm(StepForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *Case.RejectReason.choices])
    note = _note()


class DispatchForm(StepForm):
    assignee = forms.ChoiceField(label=_("Handler"))
    note = _note()

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "—"), *handlers_for(case)]  # type: ignore[attr-defined]


class ReasonForm(StepForm):
    reason = _reason()


class DeferForm(StepForm):
    days = forms.IntegerField(label=_("Working days to add"), min_value=1, max_value=MAX_DEFER_DAYS)
    reason = _reason()


class MergeForm(StepForm):
    main = forms.CharField(
        label=_("Main case (tracking code)"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocapitalize": "characters"}),
    )
    note = _note()

    def __init__(self, *args: Any, case: Case, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case, self.user = case, user

    def clean_main(self) -> str:
        code = normalize_tracking_code(self.cleaned_data["main"])
        if code == self.case.tracking_code:
            raise forms.ValidationError(_("A case cannot be merged into itself"))
        if not Case.objects.visible_to(self.user).filter(tracking_code=code).exists():
            raise forms.ValidationError(_("No case with this tracking code in your area"))
        return code


class RateForm(StepForm):
    rating = forms.TypedChoiceField(
        label=_("Rating"), coerce=int, choices=[(i, str(i)) for i in range(5, 0, -1)]
    )
    note = _note(label=_("Comment"))


class NotePhotosForm(StepForm):
    note = _note(required=True)
    photos = _photos()


# action → (form class, label, question asked before a destructive step)
STEP_FORMS: dict[str, tuple[type[StepForm], Any, Any]] = {
    "accept": (NoteOptionalForm, _("Accept"), None),
    "reject": (RejectForm, _("Reject"), _("Reject this case? The reporter is told.")),
    "dispatch": (DispatchForm, _("Dispatch"), None),
    "start": (NoteOptionalForm, _("Start work"), None),
    "progress": (WorkForm, _("Add progress"), None),
    "handle": (WorkForm, _("Mark handled"), None),
    "verify": (NoteOptionalForm, _("Verify"), None),
    "send_back": (NoteRequiredForm, _("Send back for rework"), None),
    "close": (NoteOptionalForm, _("Close"), _("Close this case? The reporter is told.")),
    "escalate": (ReasonForm, _("Escalate"), _("Escalate this case to the next tier?")),
    "defer": (DeferForm, _("Extend the deadline"), None),
    "merge": (
        MergeForm,
        _("Merge into another case"),
        _("Merge this case into the main case? It closes as a duplicate."),
    ),
    "rate": (RateForm, _("Record the rating"), None),
    "reopen": (ReasonForm, _("Reopen"), _("Reopen this case and send it back to work?")),
    "note": (NotePhotosForm, _("Add a note"), None),
}


def step_form(action: str, case: Case, user: User, *args: Any, **kwargs: Any) -> StepForm:
    """The form of one step, bound or not, with a prefix so that every form has its own ids."""
    form_class = STEP_FORMS[action][0]
    extra: dict[str, Any] = {}
    if form_class is DispatchForm:
        extra["case"] = case
    elif form_class is MergeForm:
        extra = {"case": case, "user": user}
    kwargs.setdefault("initial", {"expected_version": case.version})
    kwargs.update(extra, prefix=action)
    return form_class(*args, **kwargs)
