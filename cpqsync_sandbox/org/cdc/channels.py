"""Names of change events and their channels, following Salesforce's conventions."""

from __future__ import annotations

ALL_CHANGES_CHANNEL = "/data/ChangeEvents"
CHANNEL_PREFIX = "/data/"
CUSTOM_CHANNEL_SUFFIX = "__chn"


def event_name(entity: str) -> str:
    """``Account`` -> ``AccountChangeEvent``; ``Sync_Record__c`` -> ``Sync_Record__ChangeEvent``."""
    if entity.endswith("__c"):
        return entity[: -len("c")] + "ChangeEvent"
    return entity + "ChangeEvent"


def entity_channel(entity: str) -> str:
    return CHANNEL_PREFIX + event_name(entity)


def is_custom_channel(name: str) -> bool:
    return (
        name.startswith(CHANNEL_PREFIX)
        and name.endswith(CUSTOM_CHANNEL_SUFFIX)
        and len(name) > len(CHANNEL_PREFIX) + len(CUSTOM_CHANNEL_SUFFIX)
    )
