"""In-memory Salesforce org simulator.

Store, SOQL, REST over HTTPS here; change events in ``cdc/`` and ``pubsub/``.

The public entry point is :class:`cpqsync_sandbox.org.simulator.OrgSimulator`; the store's change
listener contract lives in :mod:`cpqsync_sandbox.org.changes`.
"""
