"""Stripe-shaped API errors, raised anywhere in the emulator and rendered in one place.

Stripe clients branch on the HTTP status plus ``error.type``/``code``/``param``, so
every failure the emulator reports goes through :class:`StripeApiError` and is
serialised exactly like Stripe's ``{"error": {...}}`` body.
"""

from __future__ import annotations

from typing import Any

DOC_URL_BASE = "https://stripe.com/docs/error-codes/"


class StripeApiError(Exception):
    """An error the emulator answers with, as Stripe would word it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.should_retry = should_retry

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = DOC_URL_BASE + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeApiError:
    """A 400 ``invalid_request_error``: what Stripe answers for bad parameters."""
    return StripeApiError(400, message, param=param, code=code)


def unknown_parameter(param: str) -> StripeApiError:
    return invalid(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def missing_parameter(param: str) -> StripeApiError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def resource_missing(kind: str, object_id: str, param: str, *, status: int = 400) -> StripeApiError:
    """``No such price: 'x'``; 404 when the object is the path, 400 when a parameter names it."""
    return StripeApiError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def exclusive(first: str, second: str) -> StripeApiError:
    return invalid(
        f"You may only specify one of these parameters: {first}, {second}.", param=second
    )


def not_implemented(what: str) -> StripeApiError:
    """501 for anything the emulator does not model, never a silent success."""
    return StripeApiError(
        501,
        f"The Stripe emulator does not implement {what}.",
        type_="api_error",
        code="emulator_not_implemented",
        should_retry=False,
    )


def card_declined() -> StripeApiError:
    """A 402 ``card_error``: the charge to the payment method failed."""
    return StripeApiError(402, "Your card was declined.", type_="card_error", code="card_declined")
