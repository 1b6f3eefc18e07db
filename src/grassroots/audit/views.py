"""The auditors' page: the audit trail of the user's scope, filtered and paginated."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from grassroots.core.admin_support import page_context

from .filters import EventFilters
from .forms import EventFilterForm
from .models import Event
from .selectors import VIEW_PERMISSION, change_rows, events_for, shown_changes

PAGE_SIZE = 50


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def log(request: HttpRequest) -> HttpResponse:
    """Events in the user's scope, newest first, with the filters of the API and of
    `grassroots audit log` (audit.filters.EventFilters)."""
    form = EventFilterForm(request.GET)
    events: Any = Event.objects.none()
    if form.is_valid():
        try:
            events = events_for(request.user, EventFilters.parse(form.cleaned_data))
        except ValidationError as exc:
            form.add_filter_errors(exc)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(event, change_rows(shown_changes(event, request.user))) for event in page.object_list]
    context = {
        **page_context(request, _("Audit trail")),
        "form": form,
        "page": page,
        "rows": rows,
    }
    return render(request, "audit/log.html", context)
