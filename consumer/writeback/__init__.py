"""The writeback consumer: sync results -> Sync Records and Stripe ids (see docs/writeback.md)."""

from consumer.writeback.batch_plan import BatchPlan, LinkOptions, Skip, plan_batch
from consumer.writeback.handler import WritebackHandler
from consumer.writeback.retention import Retention, RetentionWorker
from consumer.writeback.service import GROUP_ID, WritebackService
from consumer.writeback.sobject_collections import SObjectCollections
from consumer.writeback.sync_record import compound_id

__all__ = [
    "GROUP_ID",
    "BatchPlan",
    "LinkOptions",
    "Retention",
    "RetentionWorker",
    "SObjectCollections",
    "Skip",
    "WritebackHandler",
    "WritebackService",
    "compound_id",
    "plan_batch",
]
