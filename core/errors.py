"""One error shape for the whole API: {"error": {"code", "message", "fields"}}.

Services raise these; api/ turns them into responses. Codes are stable identifiers that clients may
switch on; messages are translated for people.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


def error_body(code: str, message: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape of every API answer that is not a success: `fields` maps a field to a list of
    sentences (a service that gives one sentence gets a list of one)."""
    listed = {
        str(name): [str(m) for m in (said if isinstance(said, (list, tuple)) else [said])]
        for name, said in (fields or {}).items()
    }
    return {"error": {"code": code, "message": str(message), "fields": listed}}


class ApiError(Exception):
    status = 400
    code = "bad_request"
    default_message: Any = _("The request is not valid.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}
        super().__init__(str(self.message))


class NotFound(ApiError):
    """Missing and out of scope look the same: a caller cannot learn what exists outside their part."""

    status = 404
    code = "not_found"
    default_message = _("Not found.")


class PermissionDenied(ApiError):
    status = 403
    code = "permission_denied"
    default_message = _("You do not have permission to do this.")


class Conflict(ApiError):
    status = 409
    code = "conflict"
    default_message = _("This conflicts with the current state.")


class Unauthenticated(ApiError):
    status = 401
    code = "auth.required"
    default_message = _("Please log in or send a valid API token.")


class ValidationFailed(ApiError):
    status = 422
    code = "validation_error"
    default_message = _("Some fields are not valid.")
