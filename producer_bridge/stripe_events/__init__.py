"""The Stripe event source (rule B1): Stripe's events onto ``cpqsync.stripe.events``.

Two ways in, one way out: signed webhooks (``webhook_receiver``) for speed, and a
catch-up walk of ``GET /v1/events`` from a checkpoint (``catch_up``) for completeness —
at start and on every interval, so events sent while the endpoint was down, or whose
deliveries failed, still arrive. Both go through one ``publisher`` that drops event ids
it already produced and acknowledges only once Kafka has. See docs/operations.md.
"""
