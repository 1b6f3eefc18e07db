"""Writes on cases, in one place for the doors: intake (intake.py) and every step of the
workflow (workflow.py, whose table the step services come from).

Each service is one transaction that validates, writes the case with its timeline event, the
audit event and the statistics delta, and tells whoever is told (delivery after commit). A step
the actor may not take raises `TransitionRefused` saying why; bad input raises `CaseInputError`
naming the fields (errors.py).
"""

from __future__ import annotations

from .deadlines import UNIT_TIER, deadline_for
from .errors import CaseInputError, TransitionRefused
from .intake import (
    CODE_LENGTH,
    MAX_PHOTOS,
    PHOTO_TYPES,
    case_report,
    check_photos,
    clean_phone,
    find_for_reporter,
    new_tracking_code,
    normalize_tracking_code,
    phone_key,
    validate_report,
)
from .timeline import REPORTER, SYSTEM
from .workflow import (
    MAX_DEFER_DAYS,
    REOPEN_DAYS,
    STEPS,
    allowed_actions,
    case_accept,
    case_close,
    case_defer,
    case_dispatch,
    case_escalate,
    case_handle,
    case_merge,
    case_note,
    case_progress,
    case_rate,
    case_reject,
    case_reopen,
    case_send_back,
    case_start,
    case_verify,
    check_handler,
    may_act_at,
    reporter_may_rate,
    run_action,
)

__all__ = [
    "CODE_LENGTH",
    "MAX_DEFER_DAYS",
    "MAX_PHOTOS",
    "PHOTO_TYPES",
    "REOPEN_DAYS",
    "REPORTER",
    "STEPS",
    "SYSTEM",
    "UNIT_TIER",
    "CaseInputError",
    "TransitionRefused",
    "allowed_actions",
    "case_accept",
    "case_close",
    "case_defer",
    "case_dispatch",
    "case_escalate",
    "case_handle",
    "case_merge",
    "case_note",
    "case_progress",
    "case_rate",
    "case_reject",
    "case_reopen",
    "case_report",
    "case_send_back",
    "case_start",
    "case_verify",
    "check_handler",
    "check_photos",
    "clean_phone",
    "deadline_for",
    "find_for_reporter",
    "may_act_at",
    "new_tracking_code",
    "normalize_tracking_code",
    "phone_key",
    "reporter_may_rate",
    "run_action",
    "validate_report",
]
