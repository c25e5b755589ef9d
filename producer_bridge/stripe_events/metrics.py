"""The Stripe event source's Prometheus metrics (``cpqsync_stripe_events_*``).

Labels are sources, outcomes and refusal reasons: never event ids, signatures or secrets.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter(
    "cpqsync_stripe_events",
    "Stripe events received, by source (webhook, catch_up) and outcome (produced, duplicate).",
    ["source", "outcome"],
)
WEBHOOKS_REFUSED = Counter(
    "cpqsync_stripe_events_webhooks_refused",
    "Webhook requests refused and never processed, by reason "
    "(no_signature, bad_signature, expired, replayed, bad_payload).",
    ["reason"],
)
PRODUCE_FAILURES = Counter(
    "cpqsync_stripe_events_produce_failures",
    "Events Kafka did not acknowledge (the webhook is answered 503; Stripe sends it again).",
)
CATCH_UP_RUNS = Counter(
    "cpqsync_stripe_events_catch_up_runs",
    "Walks of GET /v1/events from the checkpoint, by outcome (done, failed).",
    ["outcome"],
)
CHECKPOINT_SECONDS = Gauge(
    "cpqsync_stripe_events_checkpoint_timestamp_seconds",
    "Events created before this time (Unix seconds) are all on the topic.",
)

# Every label value exists from the start (at 0), so a dashboard rate or an alert on a
# refusal that never happened yet reads 0 rather than "no data".
REFUSAL_REASONS = ("no_signature", "bad_signature", "expired", "replayed", "bad_payload")
for _reason in REFUSAL_REASONS:
    WEBHOOKS_REFUSED.labels(_reason)
for _outcome in ("done", "failed"):
    CATCH_UP_RUNS.labels(_outcome)
for _source in ("webhook", "catch_up"):
    for _outcome in ("produced", "duplicate"):
        EVENTS.labels(_source, _outcome)
