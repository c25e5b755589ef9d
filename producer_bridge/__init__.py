"""Salesforce Pub/Sub API → Kafka: change-event subscription, decoding, checkpoints, backfill."""
