"""cpqsync: keeps Stripe Billing in step with Salesforce CPQ through Kafka."""

__version__ = "0.1.0"
