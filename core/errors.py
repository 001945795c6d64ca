"""Domain errors. Each carries the HTTP status and error code of API.md, and a message
that never contains a submitted value."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"
    default_message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)


class NotFound(DomainError):
    status, code, default_message = 404, "not_found", "No such resource on this site."


class Forbidden(DomainError):
    status, code, default_message = 403, "forbidden", "You are not allowed to do this."


class Unauthenticated(DomainError):
    status, code, default_message = 401, "unauthenticated", "Log in first (Bearer token)."


class SessionExpired(DomainError):
    status, code, default_message = 401, "session_expired", "Your session has ended; log in again."


class InvalidCredentials(DomainError):
    status, code, default_message = 401, "invalid_credentials", "Wrong site, username or password."


class AccountDisabled(DomainError):
    status, code = 423, "account_disabled"
    default_message = (
        "This account is locked. An administrator can re-enable it; a site's only "
        "administrator can sign in again 30 minutes after the lock."
    )


class AttemptsInFlight(DomainError):
    """More guesses at one account at once than its failed-login limit has left."""

    status, code = 429, "rate_limited"
    default_message = "Too many sign-in attempts at once; wait a moment and try again."


class InvalidOrExpired(DomainError):
    """Every OTK failure, whatever the cause: the caller learns nothing about why."""

    status, code = 410, "invalid_or_expired"
    default_message = "This link or key is invalid or has expired."


class ConversationClosed(DomainError):
    status, code, default_message = 409, "conversation_closed", "The conversation is closed."


class Conflict(DomainError):
    status, code, default_message = 409, "conflict", "This conflicts with the current state."


class ValidationFailed(DomainError):
    status, code, default_message = 422, "validation_failed", "Some fields need fixing."


class PasswordPolicy(DomainError):
    status, code = 422, "password_policy"
    default_message = "The password does not meet this site's password policy."


class Unavailable(DomainError):
    status, code = 503, "unavailable"
    default_message = "The service is busy; nothing was saved. Please try again."
