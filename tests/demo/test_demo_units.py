"""The demo's decisions on their own: waves, verdicts, expectations, backoff, what is printed."""

from __future__ import annotations

import datetime as dt

import pytest
from rich.console import Console

from cpqsync.app.supervision.role_supervisor import RestartPolicy, role_env
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.demo.contract_changes import (
    Amendment,
    ContractChange,
    LineChange,
    add_months,
    change_contracts,
    contract_changes,
)
from cpqsync_sandbox.demo.expectations import (
    DatasetExpectationError,
    OrderExpectation,
    expectations_for,
    expected_errors_by_name,
)
from cpqsync_sandbox.demo.org_client import ContractInfo, ErrorRecord, OrderState
from cpqsync_sandbox.demo.progress import Snapshot
from cpqsync_sandbox.demo.progress_view import ProgressView, interactive, plain_line
from cpqsync_sandbox.demo.report import DemoReport, OrderReport, PhaseSummary, order_reports
from cpqsync_sandbox.demo.summary import orders_table, summary
from cpqsync_sandbox.demo.verdict import judge, judge_all
from cpqsync_sandbox.demo.waves import split_waves


def state(
    status: str | None, message: str | None = None, stripe_id: str | None = None
) -> OrderState:
    return OrderState(
        order_id="801A",
        name="Order A",
        status="Activated",
        stripe_id=stripe_id,
        invoice_payment_link=None,
        sync_status=status,
        sync_message=message,
        sync_request_link=None,
    )


GOOD = OrderExpectation("801A", "Order A", None)
BAD = OrderExpectation("801A", "Order A", "no CPQ quote")


def test_waves_split_every_order_once_in_order_and_never_empty() -> None:
    ids = [f"o{i}" for i in range(10)]
    waves = split_waves(ids, 4)
    assert [len(w) for w in waves] == [3, 3, 2, 2]
    assert [i for w in waves for i in w] == ids
    assert split_waves(ids[:2], 4) == [["o0"], ["o1"]]
    assert split_waves([], 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        split_waves(ids, 0)


def test_a_good_order_needs_a_success_record_and_its_stripe_id() -> None:
    assert judge(GOOD, None).settled is False
    assert judge(GOOD, state(None)).settled is False
    # Success written but the Stripe id not yet: the writeback is still going.
    assert judge(GOOD, state("Success")).settled is False
    done = judge(GOOD, state("Success", "Synced", "sub_sched_1"))
    assert done.settled and done.ok
    failed = judge(GOOD, state("Error", "Stripe Error: card declined"))
    assert failed.settled and not failed.ok
    assert failed.problem == "expected Success, got Error: Stripe Error: card declined"


def test_a_bad_order_must_fail_with_the_documented_message() -> None:
    right = judge(BAD, state("Error", "Data Error: There's no CPQ quote here"))
    assert right.ok
    wrong_text = judge(BAD, state("Error", "Data Error: something else"))
    assert not wrong_text.ok and "does not contain 'no CPQ quote'" in str(wrong_text.problem)
    synced = judge(BAD, state("Success", "Synced", "sub_sched_1"))
    assert synced.settled and not synced.ok
    assert "expected Error" in str(synced.problem)


def test_the_shipped_dataset_names_its_three_bad_orders() -> None:
    errors = expected_errors_by_name(default_dataset())
    assert errors == {
        "Wayne - Manual Order": "There's no CPQ quote associated with this order",
        "Wayne - Legacy Maintenance": "Billing frequency is not a supported CPQ Billing "
        "Frequency option: Invoice Plan",
        "Umbrella - API Usage": "Order lines with a price configured for metered billing "
        "cannot have a quantity greater than 1.",
    }
    drafts = [{"Id": "801A", "Name": "Wayne - Manual Order"}, {"Id": "801B", "Name": "Gen 1"}]
    assert expectations_for(drafts, errors) == [
        OrderExpectation("801A", "Wayne - Manual Order", errors["Wayne - Manual Order"]),
        OrderExpectation("801B", "Gen 1", None),
    ]


def test_two_bad_orders_with_one_name_are_refused(tmp_path) -> None:
    dataset = tmp_path / "d.yaml"
    dataset.write_text(
        "version: 1\nrecords:\n  Order:\n"
        "    - {Name: Same, _expected_error: a}\n    - {Name: Same, _expected_error: b}\n"
    )
    with pytest.raises(DatasetExpectationError, match="two bad orders are named 'Same'"):
        expected_errors_by_name(dataset)


def test_restart_backoff_doubles_up_to_the_cap() -> None:
    policy = RestartPolicy(initial_backoff_s=1, max_backoff_s=10)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 8, 10, 10]


def test_each_role_gets_its_own_metrics_port() -> None:
    base = {"PATH": "/bin"}
    assert [role_env(base, 9108, i)["CPQSYNC_METRICS__PORT"] for i in range(3)] == [
        "9108",
        "9109",
        "9110",
    ]
    assert role_env(base, 0, 2)["CPQSYNC_METRICS__PORT"] == "0"
    assert role_env(base, 9108, 1)["PATH"] == "/bin"


def snapshot() -> Snapshot:
    return Snapshot(
        elapsed_s=12.0,
        total=8,
        activated=6,
        synced=3,
        errored=2,
        unexpected=0,
        stripe_requests=90,
        stripe_per_second=19.5,
        stripe_rate_limited=0,
        lag={"sync": 4, "writeback": None},
    )


def test_without_a_terminal_progress_is_plain_lines_printed_once_per_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = Console(record=True, force_terminal=True, width=200)
    monkeypatch.setenv("CI", "true")
    assert not interactive(console)
    with ProgressView(console) as view:
        view.step("Activating 8 orders")
        view.show(snapshot())
        view.show(snapshot())
    text = console.export_text()
    assert "\x1b" not in text
    assert text.count("activated 6/8, synced 3, errored 2") == 1
    assert "Stripe 19.5 req/s (90 total), lag sync 4, writeback -" in plain_line(snapshot())
    monkeypatch.setenv("CI", "false")
    assert interactive(console)


def test_summary_lists_each_order_its_schedule_and_the_error_messages() -> None:
    good = OrderExpectation("801G", "Acme - Platform", None)
    bad = OrderExpectation("801B", "Wayne - Manual", "no CPQ quote")
    good_state = OrderState(
        "801G", "Acme - Platform", "Activated", "sub_sched_9", None, "Success", "Synced", None
    )
    bad_state = OrderState(
        "801B",
        "Wayne - Manual",
        "Activated",
        None,
        None,
        "Error",
        "Data Error: no CPQ quote",
        None,
        errors=(
            ErrorRecord("Order", "801B", "Data Error: no CPQ quote"),
            ErrorRecord("OrderItem", "802L", "Data Error: Quantity specified as a decimal value."),
        ),
    )
    schedule = {
        "object": "subscription_schedule",
        "status": "not_started",
        "phases": [
            {
                "start_date": 1798070400,
                "end_date": 1861228800,
                "items": [{"price": "price_1", "quantity": 12}],
                "add_invoice_items": [],
            }
        ],
    }
    rows = order_reports(
        [judge(good, good_state), judge(bad, bad_state)],
        {"sub_sched_9": schedule},
        {"801G": 1.0, "801B": 1.0},
        {"801G": 4.5},
    )
    assert rows[0].phases[0].start_date == "2026-12-24"
    assert rows[0].phases[0].items == [{"price": "price_1", "quantity": 12}]
    assert rows[0].stripe_status == "not_started" and rows[0].settled_at_s == 4.5
    report = DemoReport(
        outcome="passed",
        reason=None,
        exit_code=0,
        started_at="2026-01-01T00:00:00+00:00",
        duration_s=30.0,
        stack_ready_s=8.0,
        sync_duration_s=12.0,
        orders=rows,
        logs_dir="/tmp/x/logs",
    )
    console = Console(record=True, width=200)
    console.print(summary(report, "/tmp/x/report.json"))
    text = console.export_text()
    assert "sub_sched_9" in text and "(not_started)" in text
    assert "2026-12-24: 12" in text and "→ 2028-12-24" in text
    # Each Error Sync Record under its order, naming the record at fault (R4).
    assert "Wayne - Manual (801B):\n    Order 801B: Data Error: no CPQ quote\n" in text
    assert "    OrderItem 802L: Data Error: Quantity specified as a decimal value." in text
    assert rows[1].sync_errors[1] == {
        "object": "OrderItem",
        "id": "802L",
        "message": "Data Error: Quantity specified as a decimal value.",
    }
    assert "Demo PASSED" in text
    assert "Logs of every process: /tmp/x/logs" in text
    assert "Report: /tmp/x/report.json" in text


def test_the_shipped_dataset_amends_with_an_upsell_a_lifo_downsell_and_a_cancellation() -> None:
    changes = {c.order: c for c in contract_changes(default_dataset())}
    acme = changes["Acme - Platform Expansion"].amendments
    # An upsell of the existing line, a new line of the same product, then a decrease of the
    # original line larger than the new line holds: only LIFO takes the new line out first.
    assert [
        (a.months, [(line.revises, line.product, line.change) for line in a.lines]) for a in acme
    ] == [
        (1, [("Platform License", None, 5)]),
        (2, [(None, "Platform License", 10)]),
        (4, [("Platform License", None, -12)]),
    ]
    assert acme[1].lines[0].unit_price == 1320.0
    [stark] = changes["Stark - Analyst Seats"].amendments
    assert stark.cancel and stark.months == 6 and not stark.lines
    # Each amendment shows in the final table under a name of its own.
    names = [a.name for c in changes.values() for a in c.amendments]
    assert len(set(names)) == len(names) == 4
    # One contract is renewed (A3), one that is not amended: its renewal carries its 8 seats.
    assert [c.order for c in changes.values() if c.renew] == ["Acme - Partner Discount"]
    assert changes["Acme - Partner Discount"].amendments == ()


def test_amendments_start_whole_months_after_the_contracts_start() -> None:
    assert add_months(dt.date(2026, 12, 13), 1) == dt.date(2027, 1, 13)
    assert add_months(dt.date(2026, 12, 13), 14) == dt.date(2028, 2, 13)
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)


def test_an_amendment_order_must_name_its_contracts_schedule() -> None:
    initial = OrderExpectation("801I", "Acme", None)
    amendment = OrderExpectation("801M", "Acme - Upsell", None, amends="801I")
    states = {
        "801I": OrderState("801I", "Acme", "Activated", "sub_sched_1", None, "Success", "", None),
        "801M": OrderState("801M", "Up", "Activated", "sub_sched_2", None, "Success", "", None),
    }
    [_, wrong] = judge_all([initial, amendment], states)
    assert wrong.problem == "names sub_sched_2, but its contract's schedule is sub_sched_1"
    states["801M"] = OrderState("801M", "Up", "Activated", "sub_sched_1", None, "Success", "", None)
    assert [v.ok for v in judge_all([initial, amendment], states)] == [True, True]


def _row(
    order_id: str,
    name: str,
    quantities: list[list[int]],
    *,
    amends: str | None = None,
    renews: str | None = None,
    stripe_id: str = "sub_sched_1",
    coupons: tuple[str, ...] = (),
) -> OrderReport:
    phases = [
        PhaseSummary(
            f"2027-0{i + 1}-13",
            f"2027-0{i + 2}-13",
            [{"price": "p", "quantity": q} for q in qs],
            0,
            list(coupons),
        )
        for i, qs in enumerate(quantities)
    ]
    return OrderReport(
        order_id, name, "Success", True, None, "Success", None, [], stripe_id,
        "subscription_schedule", "not_started", phases, 1.0, 2.0, amends=amends, renews=renews,
        end_behavior="cancel",
    )  # fmt: skip


def _table_lines(rows: list[OrderReport]) -> list[str]:
    console = Console(record=True, width=140)
    console.print(orders_table(rows))
    return console.export_text().splitlines()


def test_the_table_shows_each_phase_of_a_contract_on_a_line_and_its_amendments_under_it() -> None:
    phases = [[25, 1], [30, 1], [30, 1, 10], [28, 1]]
    rows = [
        _row("801I", "Acme - Platform Expansion", phases),
        _row("801S", "Stark - Analyst Seats", [[12]], stripe_id="sub_sched_2"),
        _row("801U", "Acme - Upsell +5 Platform", phases, amends="801I"),
    ]
    lines = _table_lines(rows)
    named = [line for line in lines if "sub_sched_" in line]
    assert [("Acme - Platform" in x, "Upsell" in x, "Stark" in x) for x in named] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert "↳ Acme - Upsell" in named[1] and "sub_sched_1" in named[1]
    # The contract's schedule as the amendments left it, a phase a line, on its initial order's
    # row; the amendment's row points there instead of repeating it.
    start = lines.index(named[0])
    shown = ["2027-01-13: 25+1", "2027-02-13: 30+1", "2027-03-13: 30+1+10", "2027-04-13: 28+1"]
    for offset, phase in enumerate([*shown, "→ 2027-05-13, then cancel"]):
        assert phase in lines[start + offset]
    assert "↑ the contract's schedule" in named[1]
    assert sum("25+1" in line for line in lines) == 1


def test_the_table_shows_a_renewal_under_its_renewed_contract_with_its_own_schedule() -> None:
    renewal = "Renewal of Acme - Partner Discount"
    rows = [
        _row("801R", renewal, [[8]], renews="801A", stripe_id="sub_sched_R"),
        _row("801A", "Acme - Partner Discount", [[8]], coupons=("Partner 15%",)),
        _row("801W", "Wayne - 18-Month License", [[4], [4]], stripe_id="sub_sched_W"),
    ]
    lines = _table_lines(rows)
    named = [line for line in lines if "sub_sched_" in line]
    assert ["Renewal" in x for x in named] == [False, True, False]
    assert "↻ Renewal of Acme - Partner" in named[1] and "sub_sched_R" in named[1]
    # The renewed contract's coupon shows under its phase; the renewal's schedule has none.
    start = lines.index(named[0])
    assert "2027-01-13: 8 " in named[0] and "coupon Partner 15%" in lines[start + 1]
    assert "2027-01-13: 8 " in named[1] and sum("coupon" in line for line in lines) == 1
    # Each phase of a term that is not whole billing periods on a line of its own (O7).
    start = lines.index(named[2])
    for offset, phase in enumerate(["2027-01-13: 4", "2027-02-13: 4", "→ 2027-03-13"]):
        assert phase in lines[start + offset]


def test_a_renewal_order_must_start_a_schedule_of_its_own() -> None:
    renewed = OrderExpectation("801I", "Acme", None)
    renewal = OrderExpectation("801R", "Renewal of Acme", None, renews="801I")
    states = {
        "801I": OrderState("801I", "Acme", "Activated", "sub_sched_1", None, "Success", "", None),
        "801R": OrderState("801R", "Ren", "Activated", "sub_sched_1", None, "Success", "", None),
    }
    [_, wrong] = judge_all([renewed, renewal], states)
    assert wrong.settled and not wrong.ok
    assert wrong.problem == "names sub_sched_1, the renewed contract's schedule, not one of its own"
    states["801R"] = OrderState("801R", "Ren", "Activated", "in_1", None, "Success", "", None)
    [_, invoice] = judge_all([renewed, renewal], states)
    assert invoice.problem == "names in_1, not a subscription schedule of its own"
    states["801R"] = OrderState(
        "801R", "Ren", "Activated", "sub_sched_2", None, "Success", "", None
    )
    assert [v.ok for v in judge_all([renewed, renewal], states)] == [True, True]
    failed = OrderState("801R", "Ren", "Activated", None, None, "Error", "Data Error: x", None)
    states["801R"] = failed
    [_, error] = judge_all([renewed, renewal], states)
    assert error.problem == "expected Success, got Error: Data Error: x"


class FakeOrg:
    """The demo's org client seam: records what the demo asks of the org, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def contract_orders(self, order_ids: list[str]) -> dict[str, ContractInfo]:
        self.calls.append(("contract", tuple(order_ids)))
        start = dt.date(2026, 12, 13)
        return {o: ContractInfo(f"800{o}", start, "USD") for o in order_ids}

    def order_lines(self, order_id: str) -> dict[str, str]:
        return {"Platform License": f"802{order_id}"}

    def amend_contract(self, contract_id: str, body: dict[str, object]) -> str:
        self.calls.append(("amend", (contract_id, body["startDate"])))
        return f"801M{len(self.calls)}"

    def renew_contract(self, contract_id: str) -> str:
        self.calls.append(("renew", contract_id))
        return "801R"

    def order_names(self, order_ids: list[str]) -> dict[str, str]:
        return {o: "Renewal of Acme - Partner Discount" for o in order_ids}

    def activate(self, order_ids: list[str]) -> None:
        self.calls.append(("activate", tuple(order_ids)))


def test_contracts_are_renewed_after_their_amendments_are_activated() -> None:
    """A renewal carries each subscription's live quantity, so the amendments go in first;
    it is expected to sync as a schedule of its own (renews), not its contract's (amends)."""
    org = FakeOrg()
    upsell = Amendment("Acme - Upsell", 1, (LineChange(5, "Platform License"),))
    changes = [
        ContractChange("Acme", (upsell,)),
        ContractChange("Acme - Partner Discount", renew=True),
    ]
    synced = {
        "Acme": OrderExpectation("801A", "Acme", None),
        "Acme - Partner Discount": OrderExpectation("801P", "Acme - Partner Discount", None),
    }
    made = change_contracts(org, changes, synced)  # type: ignore[arg-type]
    assert org.calls == [
        ("contract", ("801A", "801P")),
        ("amend", ("800801A", "2027-01-13")),
        ("activate", ("801M2",)),
        ("renew", "800801P"),
        ("activate", ("801R",)),
    ]
    assert made == [
        OrderExpectation("801M2", "Acme - Upsell", None, amends="801A"),
        OrderExpectation("801R", "Renewal of Acme - Partner Discount", None, renews="801P"),
    ]


def test_an_order_naming_its_started_subscription_shows_its_schedules_phases() -> None:
    """An evergreen order names the subscription once Stripe started it (A4); its row still
    shows the phase it bills and that the schedule releases (runs on) after it."""
    evergreen = OrderExpectation("801E", "Initech - Evergreen Support", None)
    named = OrderState("801E", "Ever", "Activated", "sub_1", None, "Success", "Synced", None)
    schedule = {
        "object": "subscription_schedule",
        "status": "active",
        "end_behavior": "release",
        "phases": [
            {
                "start_date": 1798070400,
                "end_date": 1800748800,
                "items": [{"price": "price_1", "quantity": 1}],
            }
        ],
    }
    subscription = {"object": "subscription", "status": "active", "schedule": "sub_sched_E"}
    [row] = order_reports(
        [judge(evergreen, named)], {"sub_sched_E": schedule, "sub_1": subscription}, {}, {}
    )
    assert (row.stripe_object, row.stripe_status, row.end_behavior) == (
        "subscription",
        "active",
        "release",
    )
    assert [(p.start_date, p.end_date) for p in row.phases] == [("2026-12-24", "2027-01-24")]
    text = "\n".join(_table_lines([row]))
    assert "sub_1" in text and "2026-12-24: 1" in text and "→ 2027-01-24, then release" in text
