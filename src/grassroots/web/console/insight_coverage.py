"""Console coverage audit (格不漏户、户不漏人): the counts of registry/coverage.py for a place,
the same counts for each place below it, and the records behind one problem, page by page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from grassroots.registry.coverage import (
    PROBLEM_KEYS,
    PROBLEM_LABELS,
    coverage_report,
    problem_records,
)
from grassroots.web.paging import sorted_page

from .insight import Where, link, several_places, where_of

# Sort keys of the record lists, per kind of record.
RECORD_SORTS: dict[str, tuple[dict[str, Sequence[str]], str]] = {
    "household": ({"code": ["code"], "address": ["address"], "place": ["scope_code"]}, "code"),
    "resident": (
        {
            "name": ["name_key"],
            "number": ["id_hash"],
            "household": ["household__code"],
            "place": ["scope_code"],
        },
        "name",
    ),
    "grid": ({"code": ["code"], "name": ["name"]}, "code"),
}


def counts_below(where: Where, records: dict[str, tuple[str, Any]]) -> list[dict[str, Any]]:
    """Each place below `where` with its count of every problem (records grouped by code prefix).

    Duplicate ID numbers count the numbers with a holder in the place.
    """
    lengths = sorted({len(p.code) for p in where.below})
    counts: dict[str, Counter[str]] = {key: Counter() for key in PROBLEM_KEYS}
    for key, (model, qs) in records.items():
        column = "code" if model == "grid" else "scope_code"
        measure = Count("id_hash", distinct=True) if key == "duplicate_id_numbers" else Count("pk")
        for length in lengths:
            rows = (
                qs.order_by()
                .annotate(prefix=Substr(column, 1, length))
                .values("prefix")
                .annotate(n=measure)
                .values_list("prefix", "n")
            )
            counts[key].update(dict(rows))
    return [
        {
            "code": place.code,
            "name": place.name,
            "counts": [counts[key][place.code] for key in PROBLEM_KEYS],
            "total": sum(counts[key][place.code] for key in PROBLEM_KEYS),
        }
        for place in where.below
    ]


def record_rows(model: str, page: Any) -> list[dict[str, Any]]:
    """What the list shows of each record: never a full ID number."""
    rows = []
    for record in page:
        row: dict[str, Any] = {"pk": record.pk}
        if model == "household":
            row.update(
                code=record.code,
                address=record.address,
                place=record.scope_code,
                url=link("worker:household", record.pk),
            )
        elif model == "resident":
            household = record.household
            row.update(
                name=record.name,
                number=record.id_number_masked,
                household=household.code if household else "",
                url=link("worker:household", household.pk) if household else None,
                place=record.scope_code,
            )
        else:
            row.update(code=record.code, name=record.name, unit=record.unit.name)
        rows.append(row)
    return rows


@login_required
@permission_required("registry.view_coverage", raise_exception=True)
def coverage(request: HttpRequest) -> HttpResponse:
    """The audit of a place in the user's scope; `?problem=KEY` lists that problem's records."""
    where = where_of(request)
    report = coverage_report(where.scope, sample_size=0)
    problem = request.GET.get("problem", "")
    if problem not in PROBLEM_KEYS:
        problem = ""
    # A problem the place does not have has no records below it either: its breakdown is
    # skipped (at county scale each costs a pass over the residents or the households).
    records = {
        key: problem_records(where.scope, key)
        for key in PROBLEM_KEYS
        if report.counts[key] or key == problem
    }
    problems = [
        {"key": key, "label": PROBLEM_LABELS[key], "count": report.counts[key]}
        for key in PROBLEM_KEYS
    ]
    context: dict[str, Any] = {
        "title": _("Coverage audit"),
        "where": where,
        "several": several_places(request),
        "report": report,
        "problems": problems,
        "problem": problem,
        "below": counts_below(where, records) if where.below else [],
    }
    if problem:
        model, qs = records[problem]
        if model == "household":
            qs = qs.select_related("grid")
        elif model == "resident":
            qs = qs.select_related("household")
        else:
            qs = qs.select_related("unit")
        sorts, default = RECORD_SORTS[model]
        context.update(sorted_page(request, qs, sorts, default))
        context["model"] = model
        context["problem_label"] = PROBLEM_LABELS[problem]
        context["rows"] = record_rows(model, context["page_obj"])
    return render(request, "web/console/coverage.html", context)
