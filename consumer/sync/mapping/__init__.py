"""Mapping evaluation: the Stripe parameters a record's mappings give, or the Data Error why not.

Pure: no Salesforce, Stripe or Kafka clients. The configuration it evaluates, and the Stripe
parameter schema and Salesforce paths it is checked against, are ``cpqsync.mapping``'s.
"""
