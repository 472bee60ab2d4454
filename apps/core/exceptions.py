"""Errors that services raise for the API and the console to show as they are."""


class ServiceError(Exception):
    """A request that cannot be done as asked; the message says what to fix.

    ``field`` names the input at fault (the API answers ``{field: [message]}``),
    ``status`` is the HTTP status the API answers with.
    """

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_data(self) -> dict:
        """The JSON error body."""
        return {self.field: [self.message]} if self.field else {"detail": self.message}


class Conflict(ServiceError):
    """The request clashes with the object's current state (answered 409)."""

    status = 409
