"""Salesforce access shared by every role: OAuth, REST session, the Pub/Sub contract."""
