"""The Stripe sync: hydrate Salesforce records, plan the Stripe operations, apply them.

`mapping` and `planning` are pure (records and configuration in, a Plan out); the modules that
talk to Salesforce, Stripe and Kafka live beside them and call into them.
"""
