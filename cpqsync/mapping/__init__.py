"""The mapping vocabulary the settings and the sync share: pure, no I/O.

Stripe's request parameters as the stripe library types them (``stripe_schema``,
``stripe_validation``), Salesforce field paths (``salesforce_path``), how a Salesforce value
becomes a parameter's type (``coercion``, ``field_values``, ``payment_terms``), Stripe's metadata
limits, and the two configuration sections built on them: ``mappings:`` (``config``, rules
M3-M5) and ``reverse_mappings:`` (``reverse_mappings``, rule B1). It sits below the settings,
which validate those sections with it when they load, and below the sync and the writeback,
which evaluate them; it imports neither (`.importlinter`).
"""
