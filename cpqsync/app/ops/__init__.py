"""Operating a deployment: replay, status, dead letters, generated configuration docs.

These modules talk to Kafka with the admin and plain clients only; they never
import a role's runtime, so an operator can run them while every role is stopped.
"""
