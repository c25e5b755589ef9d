"""`cpqsync run` starts the Stripe event source only where it is configured (rule B1)."""

from __future__ import annotations

from cpqsync.app.supervision.role_supervisor import ROLES, RoleSupervisor, deployment_roles


def test_stripe_events_runs_only_when_enabled_and_ports_stay_put() -> None:
    assert deployment_roles(stripe_events=False) == ["bridge", "sync", "writeback"]
    assert deployment_roles(stripe_events=True) == list(ROLES)
    assert "stripe-events" in ROLES
    supervisor = RoleSupervisor(None, {}, 9100, roles=["bridge", "writeback", "stripe-events"])
    ports = {r.name: r.env["CPQSYNC_METRICS__PORT"] for r in supervisor._roles}
    assert ports == {"bridge": "9100", "writeback": "9102", "stripe-events": "9103"}
