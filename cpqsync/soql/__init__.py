"""SOQL: a grammar-based parser for the subset cpqsync emits, a record-level evaluator, quoting.

Shared by the org simulator (which executes queries) and the sync planner (which evaluates
sync-filter WHERE conditions against hydrated records).
"""

from cpqsync.soql.ast import (
    And,
    Comparison,
    Condition,
    CountSelect,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    OrderBy,
    Query,
    SubQuery,
    Value,
)
from cpqsync.soql.errors import SoqlError, SoqlEvaluationError, SoqlSyntaxError
from cpqsync.soql.evaluate import evaluate
from cpqsync.soql.parser import parse, parse_where
from cpqsync.soql.quoting import quote, quote_like

__all__ = [
    "And",
    "Comparison",
    "Condition",
    "CountSelect",
    "DateLiteral",
    "FieldPath",
    "InList",
    "Like",
    "Not",
    "Or",
    "OrderBy",
    "Query",
    "SoqlError",
    "SoqlEvaluationError",
    "SoqlSyntaxError",
    "SubQuery",
    "Value",
    "evaluate",
    "parse",
    "parse_where",
    "quote",
    "quote_like",
]
