"""Checks that each role's dependencies answer and accept our settings, before it starts."""

from cpqsync.app.preflight.checks import ALL_CHECKS, ROLE_CHECKS, require, run_checks
from cpqsync.app.preflight.credentials import credential_problems, credential_warnings
from cpqsync.app.preflight.result import CheckResult, PreflightFailed

__all__ = [
    "ALL_CHECKS",
    "ROLE_CHECKS",
    "CheckResult",
    "PreflightFailed",
    "credential_problems",
    "credential_warnings",
    "require",
    "run_checks",
]
