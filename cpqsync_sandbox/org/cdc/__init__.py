"""Change Data Capture for the simulated org: store changes in, Salesforce-shaped Avro events out.

:mod:`.schema` builds per-object ``<Object>ChangeEvent`` schemas shaped like a real org's,
:mod:`.bitmap` encodes ``changedFields``/``nulledFields``/``diffFields``, :mod:`.events` turns one
committed transaction into events (grouping records changed alike), and :mod:`.publisher` is the
store listener that puts them on the event bus.
"""
