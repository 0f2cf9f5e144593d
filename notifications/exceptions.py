"""Domain errors raised by services and mapped to HTTP codes and socket error codes."""


class HeraldError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HeraldError):
    code, status = "not_found", 404


class Forbidden(HeraldError):
    code, status = "forbidden", 403


class Conflict(HeraldError):
    code, status = "conflict", 409


class Invalid(HeraldError):
    """Bad input; `field` names the offending field when there is one."""

    code, status = "bad_request", 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLarge(Invalid):
    code = "too_large"
