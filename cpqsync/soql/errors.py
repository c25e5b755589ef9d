"""SOQL errors: each names what was wrong, so a user can fix the query (or the filter) at once."""

from __future__ import annotations


class SoqlError(ValueError):
    """Base of every SOQL problem."""


class SoqlSyntaxError(SoqlError):
    """The text is not SOQL we understand; ``token`` is the offending piece of text.

    The message follows Salesforce's MALFORMED_QUERY shape (``unexpected token: 'X'``) so users
    recognise it, with the line and column of the token.
    """

    def __init__(self, message: str, token: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.token = token
        self.line = line
        self.column = column


class SoqlEvaluationError(SoqlError):
    """A condition cannot be decided for a record (e.g. a date compared with a boolean).

    Raised instead of guessing, because a wrong filter answer would silently sync or skip data.
    """
