"""Kafka wiring shared by every role: client configs, topic names, offsets."""
