"""Mapping configuration and evaluation: which Stripe parameter comes from which Salesforce field.

Pure: no Salesforce, Stripe or Kafka clients; `stripe.params` is read only for its TypedDicts.
"""
