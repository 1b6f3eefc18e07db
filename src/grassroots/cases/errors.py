"""The errors of the cases domain. Each door turns them into its own answer: the API into
JSON (403/409 with the message, 422 naming the fields), the pages into messages and form
errors, the commands into CommandError."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class CaseInputError(ValidationError):
    """Bad input to an intake or a step; `message_dict` names each field."""


class TransitionRefused(Exception):
    """A step refused; `status` is 403 when the actor may not do it, 409 when the case's state
    does not allow it (stage, tier, someone else's change)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
