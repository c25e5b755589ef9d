"""Billing state from Stripe, as Salesforce fields (rule B1): pure, no I/O.

The configuration (Salesforce field <- Stripe path) is the settings' ``reverse_mappings:``
section (``cpqsync.mapping.reverse_mappings``); ``targets`` says which records and Stripe
objects an event concerns, ``billing_view`` turns the Stripe objects read for a record into its
field values. The writeback does the reading and writing.
"""
