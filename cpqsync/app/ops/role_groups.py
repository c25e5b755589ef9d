"""Which topics each role's consumer group reads, so replay knows what to rewind.

The group names are the defaults of issues 9 and 10 (``cpqsync sync`` and
``cpqsync writeback``); a group under another name is rewound on the topics it
has committed offsets for, or on the topics the operator names.
"""

from __future__ import annotations

from cpqsync.kafka.topics import Topics

SYNC_GROUP = "cpqsync-sync"
# The sync's root stage, which reads the repartition topic the trigger stage fills.
SYNC_ROOTS_GROUP = "cpqsync-sync-roots"
WRITEBACK_GROUP = "cpqsync-writeback"


def role_topics(group: str, topics: Topics) -> list[str]:
    """The topics a role's group subscribes to; empty for a group that is not a role's."""
    if group == SYNC_GROUP:
        return [*topics.change_topics, topics.sync_requests]
    if group == SYNC_ROOTS_GROUP:
        return [topics.sync_roots]
    if group == WRITEBACK_GROUP:
        return [topics.sync_results]
    return []
