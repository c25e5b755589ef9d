"""Kafka consumers: the generic engine, the Stripe sync consumer and the Salesforce writeback."""
