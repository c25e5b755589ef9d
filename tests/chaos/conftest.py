"""Options for the chaos suite: ``--chaos-minutes N`` makes the long run last N minutes.

pytest reads options only from conftests it loads before collecting, so pass them with the
chaos directory on the command line: ``pytest tests/chaos -m slow --chaos-minutes 5``. A whole
suite run (``pytest``) never loads them early; the fixtures then fall back to the defaults.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "chaos runs (tests/chaos)")
    group.addoption(
        "--chaos-minutes",
        type=float,
        default=20.0,
        help="How long the slow chaos run drives its workload (default 20, the issue's run).",
    )
    group.addoption(
        "--chaos-orders",
        type=int,
        default=None,
        help="Orders the slow chaos run activates (default: 100 a minute, 2,000 for 20).",
    )
    group.addoption(
        "--chaos-inline-line-prices",
        action="store_true",
        default=False,
        help="Run the slow chaos run with sync.inline_line_prices on.",
    )
    group.addoption(
        "--chaos-price-changes",
        type=float,
        default=None,
        help=(
            "Chance of a pricebook price change after each order activation, for the CI and "
            "the slow run (default 0.05). Raise it (0.5) for a run heavy in P7: orders whose "
            "entry's Stripe price is out of date wait for the entry's own sync."
        ),
    )
    group.addoption(
        "--chaos-price-flips",
        action="store_true",
        default=False,
        help=(
            "Each price change flips its entry between its price and another, and orders with "
            "a one-time line on such an entry (at the price-change rate) activate right after "
            "their entry's price was moved away and back: a run heavy in P7 waits."
        ),
    )


@pytest.fixture
def chaos_minutes(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--chaos-minutes", default=20.0))


@pytest.fixture
def chaos_inline_line_prices(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--chaos-inline-line-prices", default=False))


@pytest.fixture
def chaos_orders(request: pytest.FixtureRequest, chaos_minutes: float) -> int:
    given = request.config.getoption("--chaos-orders", default=None)
    return int(given) if given is not None else max(50, int(chaos_minutes * 100))


@pytest.fixture
def chaos_price_changes(request: pytest.FixtureRequest) -> float | None:
    given = request.config.getoption("--chaos-price-changes", default=None)
    return float(given) if given is not None else None


@pytest.fixture
def chaos_price_flips(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--chaos-price-flips", default=False))
