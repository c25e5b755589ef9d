"""Payment methods: Stripe's test tokens (``pm_card_visa``, ``pm_card_chargeCustomerFail``, …)
attached to customers. Attaching a token creates a new PaymentMethod, as Stripe does; a
card whose charges decline (``pm_card_chargeCustomerFail``) attaches fine and fails when
an invoice is charged to it. ``pm_card_chargeDeclined`` is refused at attach time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stripe.params import PaymentMethodAttachParams, PaymentMethodRetrieveParams

from cpqsync_sandbox.stripe_emulator.errors import StripeApiError, card_declined
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id

KIND = "payment_method"


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    declines_charges: bool = False
    declines_attach: bool = False


TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", declines_charges=True),
    "pm_card_chargeDeclined": TestCard("visa", "0002", declines_attach=True),
}


def _from_token(call: Call, token: str) -> dict[str, Any]:
    card = TEST_CARDS[token]
    if card.declines_attach:
        raise card_declined()
    method = base_object(KIND, new_id("pm"), call.store.now())
    method.update(
        {
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "last4": card.last4,
            },
            "customer": None,
            "metadata": {},
            "type": "card",
            "_declines": card.declines_charges,
        }
    )
    return method


def attach(call: Call) -> dict[str, Any]:
    store = call.store
    method_id = call.arg("payment_method")
    customer_id = call.params.get("customer")
    if customer_id is None:
        raise StripeApiError(400, "Missing required param: customer.", param="customer")
    store.require("customer", customer_id, "customer")
    if method_id in TEST_CARDS:
        method = _from_token(call, method_id)
        method["customer"] = customer_id
        store.add(method)
        store.emit(method, "attached")
        return method
    method = store.require(KIND, method_id, status=404)
    method["customer"] = customer_id
    store.emit(method, "attached")
    return method


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require(KIND, call.arg("payment_method"), status=404)


ROUTES: list[Route] = [
    route(
        "POST",
        "/v1/payment_methods/{payment_method}/attach",
        PaymentMethodAttachParams,
        attach,
        {"customer"},
    ),
    route("GET", "/v1/payment_methods/{payment_method}", PaymentMethodRetrieveParams, retrieve),
]
